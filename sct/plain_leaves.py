"""Plain values that per-variable activity would trace: refused where a gradient would read them.

sct decides whether a value is traced once per variable (sct/analysis.py), while a plain value given
to dlfeval is a constant (MATLAB's untraced data; README: zero gradient).  Where one name or one
structure holds both, a dlgradient would give the constant the gradient of a variable (a training
loop moved it).  Refused here, at the user's line:

- A plain float value beside dlarrays in a dict, list or tuple given to dlfeval (``{"W": dlarray(W),
  "z": z}``): sct reads its constant off the argument's kind while the function reads it from that
  argument, but a structure computed from it (``q = dict(p)``, ``p = {k: p[k] - lr * g[k] for k in
  p}``) holds it as a traced item.  ``check_plain_leaf_sites`` refuses a dlgradient with respect to
  such a structure, or an item read from one.  A helper compiled on its own is given the structure
  as traced arrays (generated code runs on plain arrays) and cannot tell either: while such a dlfeval
  runs or is compiled (``CONTEXT``; part of the helpers' cache keys, ``context_key``), a helper's
  dlgradient with respect to a parameter that is not an array (or a value computed from one) is
  refused; so where the function itself puts a plain float value beside traced ones (``plain_fill``:
  ``p["z"] = x``, compiled again in the context).
- A name in a loop that holds a constant on the first pass and a traced value on later ones
  (``first_pass_constant``): a dlgradient with respect to it in the loop (sct/sites.py), or a call
  passing it to a function of the user's that takes dlgradient with respect to that parameter
  (``check_first_pass_calls``).
"""
from __future__ import annotations

import inspect
import threading
import types
from typing import Any, Iterable, List, Optional

import gast
import numpy as np

from .analysis import Dependence
from .errors import CompileError
from .ir import root_name, walk_nodes
from .kinds import leaf_kind
from .parse import function_ast
from .plans import CallKind


class _Context(threading.local):
    """``where``: a description of the plain value of the dlfeval call running (or being compiled)
    whose arguments hold one, None otherwise."""
    where: Optional[str] = None


CONTEXT = _Context()


def context_key() -> bool:
    """Part of a helper's cache key: compiled inside such a dlfeval call or not."""
    return CONTEXT.where is not None


def _plain_float(kind) -> bool:
    if not isinstance(kind, tuple) or len(kind) < 2:
        return False
    if kind[0] == "nd" or kind[0] == "num":
        try:
            return kind[1] is not None and np.dtype(kind[1]).kind in "fc"
        except TypeError:
            return False
    return False


def plain_leaf(kind, path: str = "") -> Optional[str]:
    """The path (``['z']``, ``[1]``) of a plain float leaf of ``kind``, a dict, list or tuple (not
    into objects, whose arrays are all variables) that also holds a dlarray; None otherwise."""
    found: List[str] = []
    traced: List[bool] = []

    def walk(k, at, depth):
        if not isinstance(k, tuple) or not k or depth > 16:
            return
        if k[0] == "dl":
            traced.append(True)
        elif _plain_float(k):
            if at and not found:
                found.append(at)
        elif k[0] == "map" and k[1] is dict:
            for key, v in k[2]:
                walk(v, f"{at}[{key!r}]", depth + 1)
        elif k[0] == "seq" and k[1] in (list, tuple):
            for i, v in enumerate(k[2]):
                walk(v, f"{at}[{i}]", depth + 1)
    walk(kind, path, 0)
    return found[0] if found and traced else None


def describe(names: Iterable[str], kinds: Iterable[Any], fname: str) -> Optional[str]:
    """``CONTEXT.where`` for a function given these kinds, or None."""
    for name, kind in zip(names, kinds):
        leaf = plain_leaf(kind)
        if leaf is not None:
            return f"{fname}()'s argument {name!r} holds a plain (not dlarray) float value at {name}{leaf}"
    return None


class Entered:
    """``with Entered(where):`` compiles with ``CONTEXT.where`` set (the helpers compiled meanwhile
    are compiled in that context)."""

    def __init__(self, where: str):
        self.where = where

    def __enter__(self):
        self.saved = CONTEXT.where
        CONTEXT.where = self.where

    def __exit__(self, *exc):
        CONTEXT.where = self.saved
        return False


def entered(fn, where: str):
    """``fn`` (a generated entry given such arguments) run with ``CONTEXT.where`` set."""
    def run(*args, **kwargs):
        saved = CONTEXT.where
        CONTEXT.where = where
        try:
            return fn(*args, **kwargs)
        finally:
            CONTEXT.where = saved
    run.__wrapped__ = fn
    return run


class PlainFill(Exception):
    """Raised by ``plain_fill`` while an entry is compiled: compile it again in the context."""

    def __init__(self, where: str):
        super().__init__(where)
        self.where = where


def _mixed_builds(fdef, activity) -> dict:
    """{name: (value, line)}: the function puts the plain float value ``value`` (a parameter's kind
    says so) beside traced ones in the dict, list or tuple ``name`` (``p = dict(p0); p["z"] = x``,
    ``q = {"W": W, "z": z}``)."""
    def plain(v) -> bool:
        return isinstance(v, gast.Name) and v.id not in activity.active and _plain_float(activity.kinds.get(v.id))

    returned = {n.value.id for n in walk_nodes(fdef) if isinstance(n, gast.Return) and isinstance(n.value, gast.Name)}
    read = {}
    for n in walk_nodes(fdef):
        if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load):
            read[n.id] = read.get(n.id, 0) + 1
    found = {}
    for n in walk_nodes(fdef):
        if not (isinstance(n, gast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], gast.Name)):
            continue
        if n.targets[0].id in returned and read.get(n.targets[0].id) == 1:
            continue            # (only returned: ``return L, z``)
        v, value = n.value, None
        if isinstance(v, gast.Call) and isinstance(v.func, gast.Attribute) and v.func.attr == "setitem" and \
                isinstance(v.func.value, gast.Name) and v.func.value.id.startswith("rt") and len(v.args) == 3 and \
                isinstance(v.args[0], gast.Name) and v.args[0].id in activity.active and plain(v.args[2]):
            value = v.args[2].id
        elif isinstance(v, (gast.List, gast.Tuple, gast.Dict)):
            items = _elements(v)
            if any(isinstance(e, gast.Name) and e.id in activity.active for e in items):
                value = next((e.id for e in items if plain(e)), None)
        if value is not None:
            found.setdefault(n.targets[0].id, (_user_name(value), getattr(n, "lineno", "?")))
    return found


def plain_fill(fdef, activity, fname: str) -> None:
    """Raise PlainFill where the function dlfeval runs makes such a structure (``_mixed_builds``): a
    helper compiled on its own that it is given to cannot tell that value's constant."""
    if CONTEXT.where is not None:
        return
    for value, line in _mixed_builds(fdef, activity).values():
        raise PlainFill(f"{fname}() puts the plain (not dlarray) float value {value!r} beside traced values in "
                        f"a dict, list or tuple (line {line})")


def check_plain_leaf_sites(fdef, activity, params: List[str], param_kinds: dict, helper: bool,
                           filename: str) -> None:
    """Refuse the dlgradient sites described in the module's doc."""
    if helper:
        where = CONTEXT.where
        if where is None:
            return
        seeds = {p for p in params if p in activity.active and not _array(activity, p)}
        leaves = {}
    else:
        leaves = {p: plain_leaf(param_kinds.get(p)) for p in params}
        leaves = {p: f"{p}{leaf} is a plain (not dlarray) float value, a constant of the argument as given (zero "
                  f"gradient)" for p, leaf in leaves.items() if leaf is not None}
        for name, (value, line) in _mixed_builds(fdef, activity).items():
            leaves.setdefault(name, f"{_user_name(name)} holds the plain (not dlarray) float value {value!r} "
                                    f"(line {line}), a constant")
        seeds = set(leaves)
        where = None
    if not seeds:
        return
    sites = [n for n in walk_nodes(fdef) if isinstance(n, gast.Assign) and isinstance(n.value, gast.Call) and
             activity.call_info(n.value).kind == CallKind.SITE]
    if not sites:
        return
    stores: dict = {}
    for n in walk_nodes(fdef):
        if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store):
            stores[n.id] = stores.get(n.id, 0) + 1
    depends = Dependence(fdef, activity, set(seeds)).active
    binds, values = {}, {}
    for n in walk_nodes(fdef):
        if isinstance(n, gast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], gast.Name):
            values.setdefault(n.targets[0].id, []).append(n.value)
            if isinstance(n.value, (gast.Subscript, gast.Attribute)):
                binds.setdefault(n.targets[0].id, []).append(n.value)

    def as_given(name: str, depth: int = 0) -> bool:
        """``name`` is an argument never bound again, or a name bound once to it or to a part of it
        selected by a constant (``Q = P``, ``P["net"]``): sct reads its constants off its kind."""
        if name in params:
            return name not in stores
        bound = values.get(name, ())
        if depth > 16 or stores.get(name) != 1 or len(bound) != 1:
            return False
        v = bound[0]
        while isinstance(v, (gast.Subscript, gast.Attribute)):
            if isinstance(v, gast.Subscript) and not isinstance(v.slice, gast.Constant):
                return False
            v = v.value
        return isinstance(v, gast.Name) and as_given(v.id, depth + 1)

    def container(name: str) -> Optional[str]:
        """The seed a container ``name`` may hold items of (computed from it), or None."""
        if name not in depends or _array(activity, name):
            return None
        if not helper and as_given(name):
            return None             # the argument as given: its kind tells its constants
        return name

    def roots(x, seen) -> set:
        """The names x's value is read from: a display's (bound once: ``[p["W"], p["z"]]``) items."""
        r = root_name(x)
        if isinstance(x, (gast.List, gast.Tuple, gast.Dict, gast.Starred)):
            return {q for e in _elements(x) for q in roots(e, seen)}
        bound = values.get(r, ())
        if r is not None and r not in seen and len(bound) == 1 and \
                isinstance(bound[0], (gast.List, gast.Tuple, gast.Dict)):
            seen.add(r)
            return roots(bound[0], seen)
        return {r} if r is not None else set()

    for stmt in sites:
        call = stmt.value
        for x in call.args[1:]:
            for r in roots(x, set()):
                held = container(r)
                if held is None and r in depends:
                    held = next((b for b in (container(root_name(v)) for v in binds.get(r, ()))
                                 if b is not None), None)
                if held is None:
                    continue
                line = getattr(stmt, "lineno", fdef.lineno)
                if helper:
                    message = (f"dlgradient in {fdef.name}() with respect to {_user_name(r)!r}, which may hold values of "
                               f"its parameters' dicts, lists or tuples: {where}, a constant that a helper "
                               f"compiled on its own cannot tell from a traced array (it would get the "
                               f"gradient of a variable)")
                else:
                    order = sorted(seeds, key=lambda s: (s not in params, s))
                    held = next((s for s in order if s == r or r in Dependence(fdef, activity, {s}).active), order[0])
                    name, source = _user_name(r), _user_name(held)
                    what = f"{name!r} as the function changes it" if name == source else \
                        f"{name!r}, computed from {source!r}"
                    message = (f"dlgradient with respect to {what}: {leaves[held]}, but sct follows values per "
                               f"variable, not per item, and here it would get the gradient of a variable")
                raise CompileError(message + ". Make it a dlarray (and ignore its gradient), or pass the "
                                   "constants to dlfeval apart from the dlarrays", filename, line, "dlgradient")


def first_pass_constant(root: str, frames, activity, params) -> Optional[str]:
    """What ``root`` is on the first pass of the innermost loop of ``frames`` (sct/sites.py's: (block,
    index, compound entered, depth), the last the statement's own), where it is a constant there
    that the loop binds to a traced value after that statement ("a plain argument of dlfeval", "a
    constant there (line n)"); None otherwise or where not known.  Activity is one fact per name, so
    the later passes' traced values made the first pass's constant a variable."""
    loop = max((j for j, f in enumerate(frames) if isinstance(f[2], (gast.For, gast.While))), default=None)
    if loop is None or root not in activity.active:
        return None

    def stores(statements) -> bool:
        return any(isinstance(n, gast.Name) and n.id == root and isinstance(n.ctx, gast.Store)
                   for st in statements for n in walk_nodes(st))
    node = frames[loop][2]
    if isinstance(node, gast.For) and stores([node.target]) or not stores(node.body):
        return None
    if any(stores(block[:i]) for block, i, _, _ in frames[loop + 1:]):
        return None             # bound in the loop before the statement, on every pass
    for j in range(loop, -1, -1):
        block, i, _, _ = frames[j]
        before = [st for st in block[:i] if stores([st])]
        if before:
            last = before[-1]
            if not (isinstance(last, gast.Assign) and len(last.targets) == 1 and isinstance(last.targets[0], gast.Name)):
                return None     # (bound in a branch, a loop, unpacked: not read here)
            if activity.value_active(last.value):
                return None
            return f"a constant (bound on line {getattr(last, 'lineno', '?')})"
        if j > 0 and isinstance(frames[j - 1][2], (gast.For, gast.While)):
            return None         # (the value an enclosing loop's previous pass left: not read here)
    if root not in params or root in activity.entry_active:
        return None
    return "a plain argument of dlfeval"


def check_first_pass_calls(fdef, activity, params, filename: str) -> None:
    """Refuse a call in a loop of a function of the user's that takes dlgradient with respect to a
    parameter (read off its code) where the call passes there a name that is a constant on the
    loop's first pass (``first_pass_constant``): the function, compiled for the traced value the
    later passes give, differentiated the constant (``for _ in range(3): W, z = step(W, z, x)`` with
    ``z`` a plain argument moved ``z``)."""
    def walk(block, frames):
        for i, st in enumerate(block):
            here = frames + [(block, i, None, len(frames))]
            if isinstance(st, (gast.Assign, gast.Expr)) and isinstance(st.value, gast.Call) and \
                    any(isinstance(f[2], (gast.For, gast.While)) for f in frames):
                _check_call(st, here)
            for field in ("body", "orelse"):
                inner = getattr(st, field, None)
                if isinstance(st, (gast.If, gast.For, gast.While, gast.With)) and isinstance(inner, list):
                    walk(inner, frames + [(block, i, st, len(frames))])

    def _check_call(st, frames):
        call = st.value
        names = [a.id if isinstance(a, gast.Name) else None for a in call.args]
        if not any(n is not None and n in activity.active for n in names):
            return
        try:
            info = activity.call_info(call)
        except Exception:       # noqa: BLE001  (a call the analysis did not classify)
            return
        fn, skip = getattr(info.obj, "__func__", info.obj), 0
        if info.kind == CallKind.METHOD and isinstance(call.func, gast.Attribute) and \
                isinstance(call.func.value, gast.Name):
            # a method of an object of the user's class (``t.step(W, z, x)``), found on its class
            kind = activity.kinds.get(call.func.value.id)
            if isinstance(kind, tuple) and len(kind) > 1 and kind[0] == "obj" and isinstance(kind[1], type):
                try:
                    fn, skip = inspect.getattr_static(kind[1], call.func.attr), 1
                except AttributeError:
                    return
        elif info.kind != CallKind.FUNCTION:
            return
        if not isinstance(fn, types.FunctionType):
            return
        wrt = _gradient_parameters(fn)
        if not wrt:
            return
        code = fn.__code__
        own = code.co_varnames[skip:code.co_argcount]
        for position, name in enumerate(names):
            if name is None or position >= len(own) or own[position] not in wrt:
                continue
            what = first_pass_constant(name, frames, activity, params)
            if what is not None:
                raise CompileError(
                    f"{fn.__name__}() takes dlgradient with respect to its parameter {own[position]!r}, and this "
                    f"call in a loop passes there {name!r}, which on the loop's first pass is {what}, not "
                    f"traced (only later passes bind it to traced values): {fn.__name__}() would differentiate "
                    f"a constant. Make {name!r} a dlarray passed to dlfeval (or computed from one) before the loop",
                    filename, getattr(st, "lineno", fdef.lineno), "dlgradient")
    walk(fdef.body, [])


_GRADIENT_PARAMETERS: dict = {}


def _gradient_parameters(fn) -> frozenset:
    """The parameters of ``fn`` its own code passes as an x of dlgradient (by name, or a name bound
    once to one: ``q = p``), read off its source; empty where it cannot be read."""
    code = fn.__code__
    found = _GRADIENT_PARAMETERS.get(code)
    if found is not None:
        return found
    found = frozenset()
    if "dlgradient" in code.co_names or any("dlgradient" in getattr(c, "co_names", ()) for c in code.co_consts):
        try:
            fdef = function_ast(fn)[0]
        except Exception:       # noqa: BLE001  (no source: no reading)
            fdef = None
        if fdef is not None:
            own = {a.id for a in fdef.args.args + fdef.args.posonlyargs if isinstance(a, gast.Name)}
            copies = {}
            for n in walk_nodes(fdef):
                if isinstance(n, gast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], gast.Name) and \
                        isinstance(n.value, gast.Name) and n.value.id in own:
                    copies[n.targets[0].id] = n.value.id
            wrt = set()
            for n in walk_nodes(fdef):
                if isinstance(n, gast.Call) and (getattr(n.func, "id", None) == "dlgradient" or
                                                 getattr(n.func, "attr", None) == "dlgradient"):
                    for x in n.args[1:]:
                        for r in {root_name(x)} | {root_name(e) for e in _elements(x)}:
                            r = copies.get(r, r)
                            if r in own:
                                wrt.add(r)
            found = frozenset(wrt)
    if len(_GRADIENT_PARAMETERS) > 4096:
        _GRADIENT_PARAMETERS.clear()
    _GRADIENT_PARAMETERS[code] = found
    return found


def _elements(x) -> list:
    if isinstance(x, (gast.List, gast.Tuple)):
        return list(x.elts)
    if isinstance(x, gast.Dict):
        return list(x.values)
    if isinstance(x, gast.Starred):
        return [x.value]
    return []


def _user_name(name: str) -> str:
    """The user's name of the normalizer's version of it (``p_1`` of ``p``; ``p_item``, an item of
    ``p``)."""
    base, _, suffix = name.rpartition("_")
    if base and suffix.isdigit():
        return _user_name(base)
    if base and suffix == "item":
        return f"{_user_name(base)}[...]"
    return name


def _array(activity, name: str) -> bool:
    return name in activity.arrays or leaf_kind(activity.kinds.get(name)) is not None
