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

import contextlib
import inspect
import threading
import types
from typing import Any, Iterable, List, Optional

import gast
import numpy as np

from .runtime.origins import module_name, module_top
from . import hooks
from .analysis import Dependence
from .errors import CompileError
from .ir import root_name, walk_nodes, walk_nodes_list
from .kinds import kind_traced, leaf_kind
from .parse import function_ast
from .plans import CallKind


class _Context(threading.local):
    """``where``: a description of the plain value of the dlfeval call running (or being compiled)
    whose arguments hold one, None otherwise."""
    where: Optional[str] = None
    described: Optional[str] = None     # the entry being compiled is given such an argument (plain_fill)


CONTEXT = _Context()


class Where(str):
    """``CONTEXT.where``: the description, and ``keys``: the constant keys (or positions) under which
    the function put its plain values beside traced ones in displays it built (``{"params": p, "lr":
    0.1}``: {"lr"}), where those are all there is; None: anything may hold one."""
    keys: Optional[frozenset] = None


def _where(text: str, keys: Optional[frozenset] = None) -> Where:
    where = Where(text)
    where.keys = keys
    return where


def context_key():
    """Part of a helper's cache key: compiled inside such a dlfeval call or not (and for which keys)."""
    where = CONTEXT.where
    if where is None:
        return False
    keys = getattr(where, "keys", None)
    return True if keys is None else keys


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
    """The path (``['z']``, ``[1]``, ``[1].W``) of a plain float leaf of ``kind``, a dict, list or tuple
    (not into objects holding a dlarray, whose arrays are all variables; an object of plain arrays
    only is a constant, as a plain array is: its float arrays are such leaves) that also holds a
    dlarray; None otherwise."""
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
        elif k[0] == "obj" and len(k) > 2 and isinstance(k[2], tuple):
            # (was: never walked, so a helper compiled on its own walking a list of layers, ``for l in
            # ls: x = l(x)``, gave a frozen layer of plain arrays the derivative of a variable)
            plain_object = not kind_traced(k)
            if not plain_object:
                traced.append(True)
            for key, v in k[2]:
                if not isinstance(key, str):
                    continue
                if plain_object and isinstance(v, tuple) and v and v[0] == "nd" and _plain_float(v):
                    if at and not found:
                        found.append(f"{at}.{key}")
                elif isinstance(v, tuple) and v and v[0] in ("obj", "map", "seq"):
                    walk(v, f"{at}.{key}", depth + 1) if plain_object or v[0] == "obj" else \
                        _objects(v, f"{at}.{key}", depth + 1)

    def _objects(k, at, depth):
        """(the field of an object holding a dlarray) the objects of plain arrays only among its items"""
        if not isinstance(k, tuple) or not k or depth > 16:
            return
        if k[0] == "obj":
            walk(k, at, depth)
        elif k[0] in ("map", "seq") and len(k) > 2 and isinstance(k[2], tuple):
            for key, v in (k[2] if k[0] == "map" else enumerate(k[2])):
                _objects(v, f"{at}[{key!r}]", depth + 1)
    walk(kind, path, 0)
    return found[0] if found and traced else None


def describe(names: Iterable[str], kinds: Iterable[Any], fname: str) -> Optional[str]:
    """``CONTEXT.where`` for a function given these kinds, or None."""
    for name, kind in zip(names, kinds):
        leaf = plain_leaf(kind)
        if leaf is not None:
            return f"{fname}()'s argument {name!r} holds a plain (not dlarray) float value at {name}{leaf}"
    return None


@contextlib.contextmanager
def _setting(attr: str, value):
    """``CONTEXT.<attr>`` set to ``value`` for the block, restored after."""
    saved = getattr(CONTEXT, attr)
    setattr(CONTEXT, attr, value)
    try:
        yield
    finally:
        setattr(CONTEXT, attr, saved)


def Entered(where: str):
    """``with Entered(where):`` compiles with ``CONTEXT.where`` set (the helpers compiled meanwhile
    are compiled in that context)."""
    return _setting("where", where)


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


def Described(where: Optional[str]):
    """``with Described(where):`` compiles an entry given such an argument (``where``, or None) outside
    the context first: plain_fill raises PlainFill where the context is needed."""
    return _setting("described", where)


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


def plain_fill(fdef, activity, fname: str, params: Iterable[str] = (), param_kinds: Optional[dict] = None,
               helper_of: Optional[str] = None) -> None:
    """Raise PlainFill where the function dlfeval runs puts a value that may be a plain float (a
    parameter whose kind says so, a float literal, a value computed from constants, a global float
    array) beside traced ones in a dict, list or tuple (``p = dict(p0); p["z"] = x``, ``{"W": W,
    "z": x}``, ``{"W": W, "lr": 0.1}``, ``p.update(z=z)``, ``xs.append(z)``) that reaches a helper
    or method compiled on its own: such a helper cannot tell that value's constant.  (Was: only a
    plain parameter put there by a display or an item write; a literal, a computed constant, a
    global, ``update`` and ``{**p, **q}`` made no context, and a helper's training loop moved it.)"""
    if CONTEXT.where is not None or helper_of is not None and helper_of.startswith("<"):
        return
    described, CONTEXT.described = CONTEXT.described, None      # (this entry's, not its helpers')
    if described is not None and helper_of is None:
        seeds = {p for p in params if plain_leaf((param_kinds or {}).get(p)) is not None}
        carry = _Carrying(fdef, activity, seeds).active if seeds else set()
        if _reaches_helper(fdef, activity, carry):
            raise PlainFill(described)
    stores: dict = {}
    for n in walk_nodes(fdef):
        if isinstance(n, gast.Assign):
            for t in n.targets:
                if isinstance(t, gast.Name):
                    stores.setdefault(t.id, []).append(n.value)
    params = {a.id for a in fdef.args.args if isinstance(a, gast.Name)}
    memo: dict = {}

    def plain(v) -> bool:
        """May ``v`` (a display's item, an argument) be or hold a plain float value?"""
        if isinstance(v, gast.Starred):
            return plain(v.value)
        if isinstance(v, gast.Constant):
            return isinstance(v.value, (float, complex))
        if not isinstance(v, gast.Name) or v.id in activity.active:
            return False
        if helper_of is not None and v.id in stores:
            return False        # (a helper: its own locals are not read here, only plain parameters and globals)
        if v.id in memo:
            return memo[v.id]
        memo[v.id] = False          # (a cycle through the names' values: not plain)
        memo[v.id] = found = _maybe_plain_name(v.id, activity, stores, params, plain)
        return found

    def strong(v) -> bool:
        """A plain float parameter, or a global's float value."""
        if not isinstance(v, gast.Name) or v.id in activity.active:
            return False
        if v.id in activity.kinds:
            return _holds_plain(activity.kinds[v.id])
        return v.id not in stores and v.id not in params and plain(v)

    def container(v) -> bool:
        if not isinstance(v, gast.Name):
            return False
        kind = activity.kinds.get(v.id)
        if isinstance(kind, tuple) and kind and kind[0] in ("map", "seq"):
            return True
        return v.id in activity.lists or v.id in activity.sequences or \
            any(isinstance(b, (gast.List, gast.Tuple, gast.Dict)) for b in stores.get(v.id, ()))

    def active(v) -> bool:
        v = v.value if isinstance(v, gast.Starred) else v
        return isinstance(v, gast.Name) and v.id in activity.active

    mixed = []          # (target, the plain item's name, line)
    for n in walk_nodes(fdef):
        if isinstance(n, gast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], gast.Name):
            target, v = n.targets[0].id, n.value
            if target not in activity.active or _array(activity, target):
                continue
            if isinstance(v, (gast.List, gast.Tuple, gast.Dict, gast.Set)):
                items = _elements(v) if not isinstance(v, gast.Set) else list(v.elts)
            elif isinstance(v, gast.Call) and activity.call_info(v).kind in (CallKind.OP, CallKind.PLAIN) and \
                    not activity.value_is_array(v):
                items = list(v.args) + [k.value for k in v.keywords]      # rt.setitem, rt.dict_merged, dict(...)
                if _is_setitem(activity, v) and len(v.args) == 3:
                    # ``p[k] = v``: a plain parameter or a global's float value only (the container
                    # is followed per variable: ``m = {}; m[k] = np.zeros_like(w)``, an optimiser's
                    # state rebound to traced values later, holds no traced value here)
                    put = v.args[2]
                    if active(v.args[0]) and (strong(put) or isinstance(v.args[1], gast.Constant) and
                                              isinstance(put, gast.Constant) and plain(put)):
                        mixed.append((target, v.args[2], n))
                    continue
            elif isinstance(v, gast.Call) and activity.call_info(v).kind == CallKind.FUNCTION:
                # pack(W, z) returning {"W": W, "z": z}: a plain float array argument its value may hold
                # (call_tree.returns_holding, which may say more than it holds: not numbers, ``step(p,
                # x, lr)``'s learning rate)
                items = _returned_arguments(activity.call_info(v).obj, v, fdef, activity)
                found = next((e for e in items if strong(e) and _array_kind(activity.kinds.get(e.id))), None)
                if found is not None and any(active(e) for e in items):
                    mixed.append((target, found, n))
                continue
            elif isinstance(v, gast.BinOp) and isinstance(v.op, (gast.Add, gast.BitOr)) and \
                    any(container(o) for o in (v.left, v.right)):
                items = [v.left, v.right]                                   # [W] + [z], p | q
            else:
                continue
            if any(active(e) for e in items):
                found = next((e for e in items if plain(e)), None)
                if found is not None:
                    mixed.append((target, found, n))
        elif isinstance(n, gast.Expr) and isinstance(n.value, gast.Call) and \
                isinstance(n.value.func, gast.Attribute) and isinstance(n.value.func.value, gast.Name) and \
                n.value.func.attr in ("append", "extend", "insert", "update", "setdefault", "__setitem__"):
            v = n.value
            if v.func.value.id in activity.active or any(active(a) for a in v.args):
                found = next((e for e in list(v.args) + [k.value for k in v.keywords] if plain(e)), None)
                if found is not None:
                    mixed.append((v.func.value.id, found, n))
    del plain       # (a recursive closure holding the analysis and its function: freed now, not by the cyclic collector)
    if not mixed:
        return
    reach = set(_Holding(fdef, activity, {t for t, _, _ in mixed}).active) | {t for t, _, _ in mixed}
    if _reaches_helper(fdef, activity, reach, strict=helper_of is not None):
        keys = _display_keys(mixed)
        target, found, stmt = mixed[0]
        line = getattr(stmt, 'lineno', '?')
        if helper_of is not None:
            # a helper compiled on its own (fwd/bwd called by its caller's code): refused here
            # (was: the helper it hands the structure to differentiated the constant as a
            # variable; a training step inside the helper moved it)
            what = repr(_user_name(found.id)) if isinstance(found, gast.Name) else \
                repr(getattr(found, "value", "?"))
            raise CompileError(
                f"{fname}() puts {what}, which may be a plain (not dlarray) float value (a constant), "
                f"beside traced values in a dict, list or tuple and hands it to a function that may "
                f"take dlgradient of it, compiled on its own: there it cannot be told from a traced "
                f"array and would get the gradient of a variable. Make it a dlarray (and ignore its "
                f"gradient), or pass the constants apart from the traced values",
                helper_of, line if isinstance(line, int) else fdef.lineno, "dlgradient")
        if isinstance(found, gast.Name) and _plain_float(activity.kinds.get(found.id)):
            raise PlainFill(_where(f"{fname}() puts the plain (not dlarray) float value "
                                   f"{_user_name(found.id)!r} beside traced values in a dict, list or tuple "
                                   f"(line {line})", keys))
        what = repr(_user_name(found.id)) if isinstance(found, gast.Name) else \
            repr(getattr(found, "value", "?"))
        raise PlainFill(_where(f"{fname}() puts a value that may be a plain (not dlarray) float ({what}) "
                               f"beside traced values in a dict, list or tuple (line {line})", keys))


def _display_keys(mixed) -> Optional[frozenset]:
    """The constant keys (positions) the plain items of ``mixed`` sit under in the displays that hold
    them (``{"params": p, "lr": 0.1}``: "lr"); None where one is put otherwise (an item write, a
    merge, a method)."""
    keys = set()
    for _, found, stmt in mixed:
        v = getattr(stmt, "value", None)
        if isinstance(stmt, gast.Assign) and isinstance(v, gast.Dict) and \
                any(item is found for item in v.values):
            key = v.keys[[i for i, item in enumerate(v.values) if item is found][0]]
            if not (isinstance(key, gast.Constant) and isinstance(key.value, (str, int))):
                return None
            keys.add(key.value)
        elif isinstance(stmt, gast.Assign) and isinstance(v, (gast.List, gast.Tuple)) and \
                any(item is found for item in v.elts) and not any(isinstance(e, gast.Starred) for e in v.elts):
            keys.add([i for i, item in enumerate(v.elts) if item is found][0])
        else:
            return None
    return frozenset(keys)


class _Holding(Dependence):
    """The names that may hold items of ``seeds`` (structures holding a plain value), not merely
    values computed from them: an arithmetic result, an op's array, a derivative and a call of the
    user's whose value holds none of the arguments given it (``call_tree.returns_holding``) hold none
    (``p, mu = step(p, state, x)`` beside a state dict: ``p`` is new values; was taken to hold the
    state's variance, and the loop's next ``step(p, ...)`` was refused)."""

    def value_active(self, value):
        if isinstance(value, (gast.UnaryOp, gast.Compare, gast.BoolOp, gast.Constant, gast.JoinedStr)):
            return False
        if isinstance(value, gast.BinOp):
            if isinstance(value.op, (gast.Add, gast.BitOr, gast.Mult)) and \
                    any(isinstance(o, gast.Name) and o.id in self.active and not _array(self.act, o.id)
                        for o in (value.left, value.right)):
                return True             # ([a] + [b], p | q)
            return False
        if isinstance(value, gast.Call):
            try:
                info = self.act.call_info(value)
            except Exception:           # noqa: BLE001  (a call the analysis did not classify)
                return super().value_active(value)
            if info.kind == CallKind.SITE or self.act.value_is_array(value):
                return False
            if info.kind == CallKind.FUNCTION and type(info.obj) is types.FunctionType:
                returns_holding = hooks.CALL_TREE.returns_holding
                try:
                    held = returns_holding(info.obj)
                    names = list(inspect.signature(info.obj).parameters)
                except Exception:       # noqa: BLE001  (not told: as Dependence)
                    held = None
                if held is not None and not any(isinstance(a, gast.Starred) for a in value.args) and \
                        not any(k.arg is None for k in value.keywords):
                    given = [(n, a) for n, a in zip(names, value.args)] + [(k.arg, k.value) for k in value.keywords]
                    return any(n in held and self.is_active(a) for n, a in given)
        return super().value_active(value)


class _Carrying(_Holding):
    """The names that may hold a plain item of the arguments ``seeds`` (given such items beside
    dlarrays) beside traced values: as Dependence, but an item or attribute whose kind is known
    holds one only where that kind does (``state["params"]`` of dlarrays only beside ``state["lr"]``
    does not; ``p["z"]`` itself is a constant, known by its kind)."""

    def value_active(self, value):
        if isinstance(value, (gast.Subscript, gast.Attribute)) and self.is_active(value.value):
            kind = self.value_kind(value)
            if kind is not None:
                return plain_leaf(kind) is not None
        return super().value_active(value)


def _differentiates_parameter(fn, depth: int = 0) -> bool:
    """Does the def ``fn`` take dlgradient with respect to one of its parameters (as given), or
    hand a parameter to a def of the user's that does?  (Not known: no.)"""
    import types
    _helper_tree, _outside_value = hooks.CALL_TREE.helper_tree, hooks.CALL_TREE.outside_value
    if type(fn) is not types.FunctionType or depth > 4:
        return False
    tree = _helper_tree(fn)
    if tree is None:
        return False
    sites = tuple(getattr(hooks.API, "SITE_FUNCTIONS", ()))
    args = tree.args
    params = {a.id for a in list(args.posonlyargs) + list(args.args) + list(args.kwonlyargs)
              if isinstance(a, gast.Name)}
    for n in walk_nodes(tree):
        if not isinstance(n, gast.Call) or not isinstance(n.func, (gast.Name, gast.Attribute)):
            continue
        given = [a.value if isinstance(a, gast.Starred) else a for a in list(n.args) + [k.value for k in n.keywords]]
        if not any(isinstance(a, gast.Name) and a.id in params for a in given):
            continue
        value = _outside_value(fn, n.func)
        if any(value is f for f in sites):
            if any(isinstance(a, gast.Name) and a.id in params for a in given[1:]):
                return True
        elif _differentiates_parameter(value, depth + 1):
            return True
    return False


def _reaches_helper(fdef, activity, names: set, strict: bool = False) -> bool:
    """Is one of ``names`` given to (or the receiver or function of) a call of a helper, method or
    unknown function that may take a derivative in code compiled on its own?"""
    if not names:
        return False
    local_functions = {n.name for n in walk_nodes(fdef) if isinstance(n, (gast.FunctionDef,)) and n is not fdef} | \
        {n.targets[0].id for n in walk_nodes(fdef) if isinstance(n, gast.Assign) and len(n.targets) == 1 and
         isinstance(n.targets[0], gast.Name) and isinstance(n.value, gast.Lambda)}
    resolver = getattr(activity, "resolver", None)

    def differentiates(info, call) -> bool:
        if strict:              # (a helper's: a def of the user's taking dlgradient of a parameter)
            return info.kind == CallKind.FUNCTION and _differentiates_parameter(info.obj)
        receiving = _receiving_parameters(info, call, activity, names)
        if receiving is not None:
            # a def of the user's (or a method of a user's class) known here: only the parameters given
            # such a value matter (``step(p, state, x)`` differentiating ``p`` beside a state dict of a
            # traced mean and a plain variance; was refused)
            fn, params = receiving
            return any(_parameter_may_differentiate(fn, q) for q in params)
        if info.kind == CallKind.METHOD or _may_differentiate(info.obj, set(), 0):
            return True
        for a in list(call.args) + [k.value for k in call.keywords]:      # train(step, p, x)
            a = a.value if isinstance(a, gast.Starred) else a
            if isinstance(a, gast.Name) and a.id not in activity.active:
                if a.id in local_functions:
                    return True
                value = resolver.resolve_name(a.id) if resolver is not None else None
                if callable(value) and not isinstance(value, type) and _may_differentiate(value, set(), 0):
                    return True
        return False

    for n in walk_nodes(fdef):
        if not isinstance(n, gast.Call):
            continue
        info = activity.call_info(n)
        if info.kind not in (CallKind.FUNCTION, CallKind.METHOD, CallKind.PLAIN):
            continue
        given = list(n.args) + [k.value for k in n.keywords] + [n.func]
        if info.receiver is not None:
            given.append(gast.Name(id=info.receiver, ctx=gast.Load(), annotation=None, type_comment=None))
        if any(isinstance(a, gast.Starred) and isinstance(a.value, gast.Name) and a.value.id in names or
               isinstance(a, gast.Name) and a.id in names for a in given) and differentiates(info, n):
            return True
    return False


def _receiving_parameters(info, call, activity, names: set):
    """(the def, the names of its parameters given one of ``names``) for a call of a function of the
    user's or a method of a user's class known here, where each of ``names`` the call passes binds a
    named parameter; None otherwise."""
    fn, skip = getattr(info.obj, "__func__", info.obj), 0
    if info.kind == CallKind.METHOD:
        receiver = call.func.value if isinstance(call.func, gast.Attribute) else None
        kind = activity.kinds.get(receiver.id) if isinstance(receiver, gast.Name) else None
        if not (isinstance(kind, tuple) and len(kind) > 1 and kind[0] == "obj" and isinstance(kind[1], type)) or \
                receiver.id in names:
            return None
        try:
            fn, skip = inspect.getattr_static(kind[1], call.func.attr), 1
        except AttributeError:
            return None
    elif info.kind != CallKind.FUNCTION or isinstance(call.func, gast.Name) and call.func.id in names:
        return None
    if type(fn) is not types.FunctionType or any(isinstance(a, gast.Starred) for a in call.args) or \
            any(k.arg is None for k in call.keywords):
        return None
    code = fn.__code__
    own = code.co_varnames[skip:code.co_argcount + code.co_kwonlyargcount]
    positional = code.co_varnames[skip:code.co_argcount]
    params = set()
    for i, a in enumerate(call.args):
        if isinstance(a, gast.Name) and a.id in names:
            if i >= len(positional):
                return None
            params.add(positional[i])
    for k in call.keywords:
        if isinstance(k.value, gast.Name) and k.value.id in names:
            if k.arg not in own:
                return None
            params.add(k.arg)
    return fn, params


def _parameter_may_differentiate(fn, param: str) -> bool:
    """May ``fn`` take a derivative with respect to (a part of) its parameter ``param``?  Read off its
    code: a dlgradient of it, or a use of it (or of a part of it) as an argument of a call that may
    take one (``_may_differentiate``), or a use not followed here (bound to another name)."""
    tree_of = hooks.CALL_TREE
    missing, _helper_tree, _outside_value = tree_of.missing, tree_of.helper_tree, tree_of.outside_value
    if param in _gradient_parameters(fn):
        return True
    if not _may_differentiate(fn, set(), 0):
        return False            # (no derivative taken in it or in what it calls: sqnorm(p) recursing)
    tree = _helper_tree(fn)
    if tree is None:
        return True
    parents = {}
    for n in walk_nodes(tree):
        for c in gast.iter_child_nodes(n):
            parents[id(c)] = n
    for n in walk_nodes(tree):
        if not (isinstance(n, gast.Name) and n.id == param and isinstance(n.ctx, gast.Load)):
            continue
        node, up = n, parents.get(id(n))
        while isinstance(up, (gast.Subscript, gast.Attribute)) and up.value is node:
            node, up = up, parents.get(id(up))
        if isinstance(up, gast.Call) and up.func is not node:
            value = _outside_value(fn, up.func) if isinstance(up.func, (gast.Name, gast.Attribute)) else missing
            if value is missing or _may_differentiate(value, set(), 0):
                return True
        elif isinstance(up, gast.Call) or isinstance(up, (gast.Assign, gast.keyword, gast.Starred, gast.List,
                                                           gast.Tuple, gast.Dict, gast.Return, gast.Lambda)):
            return True         # (called, bound to another name, put in a structure, returned: not followed)
    return False


def _maybe_plain_name(name: str, activity, stores: dict, params: set, plain) -> bool:
    """May the untraced name ``name`` hold a plain float value (or a structure holding one)?"""
    kind = activity.kinds.get(name)
    if kind is not None:
        return _holds_plain(kind)
    if name in activity.text_names():
        return False
    values = stores.get(name)
    if values:
        def value_plain(v) -> bool:
            if isinstance(v, gast.Constant):
                return isinstance(v.value, (float, complex))
            if isinstance(v, (gast.List, gast.Tuple, gast.Dict, gast.Set)):
                items = _elements(v) if not isinstance(v, gast.Set) else list(v.elts)
                return any(plain(e) for e in items)
            if isinstance(v, gast.Name):
                return plain(v)
            return True             # a value computed here: it may be a float
        return any(value_plain(v) for v in values)
    if name in params or name in getattr(getattr(activity, "resolver", None), "locals", ()):
        return False            # (a loop's target: a key, an index)
    resolver = getattr(activity, "resolver", None)
    value = resolver.resolve_name(name) if resolver is not None else None
    return _plain_value(value, 0)


def _array_kind(kind) -> bool:
    return _plain_float(kind) and kind[0] == "nd"


def _is_setitem(activity, call) -> bool:
    from .runtime import support
    return activity.call_info(call).obj is getattr(support, "setitem", None)


def _returned_arguments(fn, call, fdef=None, activity=None) -> list:
    """The arguments of ``call`` that the value ``fn`` returns may hold (``call_tree.returns_holding``);
    all of them where that cannot be told (a lambda: ``pack = lambda W, b, z: {...}`` was read as
    holding none, and a step loop trained the plain ``z`` it packed).  A def nested in ``fdef`` called
    by its name (``fn`` None: ``p, vel, L = step(p, vel)`` of a ``def step`` of the function): read
    from its tree (was: all, so a plain ``x`` it closes over, passed first, was "put beside traced
    values", red team 51 FR8)."""
    returns_holding = hooks.CALL_TREE.returns_holding
    tree = None
    if fn is None and fdef is not None and activity is not None and isinstance(call.func, gast.Name):
        nested = [n for n in walk_nodes(fdef) if isinstance(n, (gast.FunctionDef, gast.AsyncFunctionDef, gast.Lambda))
                  and n is not fdef]
        found = [n for n in nested if isinstance(n, gast.FunctionDef) and n.name == call.func.id]
        stores = [n for n in walk_nodes(fdef) if isinstance(n, gast.Name) and n.id == call.func.id and
                  not isinstance(n.ctx, gast.Load)]
        if len(found) == 1 and not stores and not found[0].decorator_list:
            fn, tree = getattr(activity.resolver, "fn", None), found[0]
            if fn is None:
                tree = None
    try:
        held = returns_holding(fn, tree) if tree is not None else returns_holding(fn)
    except Exception:           # noqa: BLE001  (a summary sct cannot make: all may be held)
        held = None
    if held is None:
        return [a.value if isinstance(a, gast.Starred) else a for a in call.args] + [k.value for k in call.keywords]
    if not held or any(isinstance(a, gast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords):
        return []
    if tree is not None:
        names = [a.id for a in tree.args.posonlyargs + tree.args.args if isinstance(a, gast.Name)]
    else:
        try:
            names = list(inspect.signature(fn).parameters)
        except (TypeError, ValueError):
            return []
    found = [a for name, a in zip(names, call.args) if name in held]
    return found + [k.value for k in call.keywords if k.arg in held]


_SAFE_METHODS = frozenset((
    "sum", "mean", "max", "min", "reshape", "copy", "astype", "item", "keys", "values", "items", "get",
    "append", "extend", "insert", "pop", "update", "setdefault", "index", "count", "dot", "transpose",
    "ravel", "flatten", "squeeze", "std", "var", "prod", "any", "all", "clip", "round", "tolist",
    "argmax", "argmin", "cumsum", "conj", "fill", "format", "join", "split", "startswith", "endswith"))


def _may_differentiate(obj, seen: set, depth: int) -> bool:
    """May calling ``obj`` run a dlgradient (or another derivative function) in code sct compiles on
    its own?  Read off the calls in its source (unknown: may): a call of a parameter or of a method
    other than an array's, dict's or list's, of a class of the user's, or of a helper that may."""
    import functools
    import types
    tree_of = hooks.CALL_TREE
    missing, _helper_tree, _outside_value = tree_of.missing, tree_of.helper_tree, tree_of.outside_value
    sites = tuple(getattr(hooks.API, "SITE_FUNCTIONS", ()))
    if obj is None or depth > 6:
        return True
    if any(obj is f for f in sites):
        return True
    module = (module_name(obj) or "") if not isinstance(obj, types.ModuleType) else ""
    if isinstance(obj, (types.BuiltinFunctionType, types.BuiltinMethodType, np.ufunc)) or \
            module.split(".")[0] in ("builtins", "numpy", "scipy", "math", "operator", "functools", "itertools"):
        return isinstance(obj, functools.partial) and _may_differentiate(obj.func, seen, depth + 1)
    if isinstance(obj, functools.partial):
        return _may_differentiate(obj.func, seen, depth + 1)
    if type(obj) is not types.FunctionType:
        return True
    code = obj.__code__
    if code in seen:
        return False
    seen.add(code)
    tree = _helper_tree(obj)
    if tree is None:
        return True
    nodes = walk_nodes_list(tree)
    local = {n.id for n in nodes if isinstance(n, gast.Name) and not isinstance(n.ctx, gast.Load)}
    defined = {n.name for n in nodes if isinstance(n, gast.FunctionDef) and n is not tree} | \
        {n.targets[0].id for n in nodes if isinstance(n, gast.Assign) and len(n.targets) == 1 and
         isinstance(n.targets[0], gast.Name) and isinstance(n.value, gast.Lambda)}
    for n in nodes:
        if not isinstance(n, gast.Call):
            continue
        func = n.func
        if isinstance(func, gast.Name) and func.id in defined:
            continue                    # (its body is read here too)
        if isinstance(func, gast.Attribute) and root_name(func) in local:
            if func.attr in _SAFE_METHODS:
                continue
            return True                 # (a method of a parameter or a local: an object's, maybe)
        if not isinstance(func, (gast.Name, gast.Attribute)) or root_name(func) in local:
            return True                 # (a parameter called: what it is is not known here)
        value = _outside_value(obj, func)
        if value is missing:
            return True
        if any(value is f for f in sites):
            return True
        if isinstance(value, type):
            if module_top(value) not in ("builtins", "numpy", "scipy", "math", "sct",
                                                              "collections", "functools", "itertools"):
                return True             # (a class of the user's: its methods may)
            continue
        if callable(value) and _may_differentiate(value, seen, depth + 1):
            return True
    return False


def _plain_value(value, depth: int) -> bool:
    """A global's or closure's value: a float array or number, or a dict, list or tuple holding one
    (unknown: may be)."""
    from .cache import Unresolved
    if value is Unresolved or depth > 8:
        return value is Unresolved
    if isinstance(value, bool):
        return False
    if isinstance(value, (float, complex, np.floating, np.complexfloating)):
        return True
    if isinstance(value, np.ndarray):
        return value.dtype.kind in "fc" and type(value) is np.ndarray
    if isinstance(value, dict):
        return any(_plain_value(v, depth + 1) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_plain_value(v, depth + 1) for v in value)
    return False


def _holds_plain(kind, depth: int = 0) -> bool:
    """Is ``kind`` a plain float, or a dict, list or tuple holding one?"""
    if _plain_float(kind):
        return True
    if not isinstance(kind, tuple) or len(kind) < 3 or depth > 16:
        return False
    if kind[0] == "map" and kind[1] is dict:
        return any(_holds_plain(v, depth + 1) for _, v in kind[2])
    if kind[0] == "seq" and kind[1] in (list, tuple):
        return any(_holds_plain(v, depth + 1) for v in kind[2])
    return False


def check_plain_leaf_sites(fdef, activity, params: List[str], param_kinds: dict, helper: bool,
                           filename: str, generated: bool = False) -> None:
    """Refuse the dlgradient sites described in the module's doc, and the calls of helpers that may
    take one with respect to a parameter given such a value (not in sct's ``generated`` code, whose
    calls of the forward and adjoint functions it is given pass adjoints on)."""
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

    keys = getattr(where, "keys", None) if helper else None

    def other_part(r) -> bool:
        """(A helper in a context of known keys) ``r`` is a parameter's part selected by a constant key
        its plain items are not under (``state["params"]`` beside ``state["lr"]``)."""
        if keys is None:
            return False
        bound = values.get(r, ())
        v = bound[0] if len(bound) == 1 and stores.get(r) == 1 else None
        return isinstance(v, gast.Subscript) and isinstance(v.value, gast.Name) and v.value.id in params and \
            isinstance(v.slice, gast.Constant) and v.slice.value not in keys

    def held_by(x):
        """(the name ``x`` is read from, the seed it may hold items of) where ``x`` (an argument of a
        dlgradient, or of a call of a helper) may hold an item of a seed computed from it; else None."""
        if keys is not None and isinstance(x, gast.Subscript) and isinstance(x.value, gast.Name) and \
                x.value.id in params and isinstance(x.slice, gast.Constant) and x.slice.value not in keys:
            return None
        for r in roots(x, set()):
            if other_part(r):
                continue
            held = container(r)
            if held is None and r in depends:
                held = next((b for b in (container(root_name(v)) for v in binds.get(r, ()))
                             if b is not None), None)
            if held is not None:
                return r, held
        return None

    def refuse(r, held, line, what_site):
        if helper:
            message = (f"{what_site} in {fdef.name}() with respect to {_user_name(r)!r}, which may hold values of "
                       f"its parameters' dicts, lists or tuples: {where}, a constant that a helper "
                       f"compiled on its own cannot tell from a traced array (it would get the "
                       f"gradient of a variable)")
        else:
            order = sorted(seeds, key=lambda s: (s not in params, s))
            held = next((s for s in order if s == r or r in Dependence(fdef, activity, {s}).active), order[0])
            name, source = _user_name(r), _user_name(held)
            what = f"{name!r} as the function changes it" if name == source else \
                f"{name!r}, computed from {source!r}"
            message = (f"{what_site} with respect to {what}: {leaves[held]}, but sct follows values per "
                       f"variable, not per item, and here it would get the gradient of a variable")
        raise CompileError(message + ". Make it a dlarray (and ignore its gradient), or pass the "
                           "constants to dlfeval apart from the dlarrays", filename, line, "dlgradient")

    for stmt in sites:
        for x in stmt.value.args[1:]:
            found = held_by(x)
            if found is not None:
                refuse(*found, getattr(stmt, "lineno", fdef.lineno), "dlgradient")
    # A helper compiled on its own that takes dlgradient with respect to a parameter given such a value
    # (``z = q["z"]; z = step(z, W)`` in a loop, ``q = dict(p)``) cannot tell it from a traced array
    # either: a call of a def of the user's (or a method of a class of the user's) taking dlgradient of
    # that parameter (in its own code or a def it passes it to by name) is refused as the dlgradient is.
    calls = []
    for stmt in (() if generated else walk_nodes(fdef)):
        if isinstance(stmt, gast.stmt) and not isinstance(stmt, (gast.FunctionDef, gast.If, gast.For,
                                                                   gast.While, gast.With, gast.Try)):
            for n in walk_nodes(stmt):
                info = activity.call_info(n) if isinstance(n, gast.Call) else None
                if info is not None and info.kind in (CallKind.FUNCTION, CallKind.METHOD):
                    calls.extend((stmt, n, info, a.id) for a in list(n.args) + [k.value for k in n.keywords]
                                 if isinstance(a, gast.Name) and (_array(activity, a.id) or a.id in binds and
                                                                  not _structure(activity.kinds.get(a.id))))
    for stmt, call, info, name in calls:     # (an array, or an item read of a kind not known here)
        found = held_by(gast.Name(id=name, ctx=gast.Load(), annotation=None, type_comment=None))
        receiving = _receiving_parameters(info, call, activity, {name}) if found is not None else None
        if found is not None and receiving is None and info.kind == CallKind.METHOD:
            receiving = _method_of_made(fdef, activity, call, name)
        if receiving is not None and any(_takes_gradient_of(receiving[0], q) for q in receiving[1]):
            callee = call.func.attr if isinstance(call.func, gast.Attribute) else getattr(call.func, "id", "?")
            refuse(*found, getattr(stmt, "lineno", fdef.lineno),
                   f"a call of {callee}(), which takes dlgradient (compiled on its own),")


def _method_of_made(fdef, activity, call, name: str):
    """(the def, the parameters given ``name``) for ``m.f(...)`` where ``m`` is bound once to an
    instance of a class of the user's made here (``m = Model()``, ``m, q = Model(), dict(p)``), else None."""
    receiver = call.func.value if isinstance(call.func, gast.Attribute) else None
    made = receiver
    for _ in range(4):          # (through names bound once to it: m = m_Model)
        if not isinstance(made, gast.Name):
            break
        bound = []
        for n in walk_nodes(fdef):
            for t in (n.targets if isinstance(n, gast.Assign) else ()):
                pairs = zip(t.elts, n.value.elts) if isinstance(t, gast.Tuple) and \
                    isinstance(n.value, gast.Tuple) and len(t.elts) == len(n.value.elts) else [(t, n.value)]
                bound += [v for k, v in pairs if isinstance(k, gast.Name) and k.id == made.id]
            if isinstance(n, gast.Name) and n.id == made.id and not isinstance(n.ctx, gast.Load):
                bound.append(None)
        made = bound[0] if len(bound) == 2 else None        # (one binding, and its Store)
    made = made if isinstance(made, gast.Call) else None
    resolver = getattr(activity, "resolver", None)
    if made is None or not isinstance(made.func, gast.Name) or resolver is None:
        return None
    cls = resolver.resolve_name(made.func.id)
    try:
        fn = inspect.getattr_static(cls, call.func.attr) if isinstance(cls, type) else None
    except AttributeError:
        return None
    if type(fn) is not types.FunctionType:
        return None
    code = fn.__code__
    names = code.co_varnames[1:code.co_argcount]
    params = {names[i] for i, a in enumerate(call.args) if isinstance(a, gast.Name) and a.id == name and i < len(names)}
    params |= {k.arg for k in call.keywords if isinstance(k.value, gast.Name) and k.value.id == name and k.arg}
    return fn, params


def _takes_gradient_of(fn, param: str, depth: int = 0) -> bool:
    """Does ``fn`` take dlgradient with respect to its parameter ``param``: in its own code, or in a
    function of the user's it passes ``param`` to by name (read off their sources)?"""
    if param in _gradient_parameters(fn):
        return True
    tree = hooks.CALL_TREE.helper_tree(fn) if depth < 4 else None
    for n in (walk_nodes(tree) if tree is not None else ()):
        if not (isinstance(n, gast.Call) and isinstance(n.func, gast.Name)):
            continue
        given = [i for i, a in enumerate(n.args) if isinstance(a, gast.Name) and a.id == param]
        named = [k.arg for k in n.keywords if k.arg and isinstance(k.value, gast.Name) and k.value.id == param]
        callee = hooks.CALL_TREE.outside_value(fn, n.func) if given or named else None
        if type(callee) is types.FunctionType:
            code = callee.__code__
            names = code.co_varnames[:code.co_argcount + code.co_kwonlyargcount]
            if any(_takes_gradient_of(callee, q, depth + 1)
                   for q in [names[i] for i in given if i < code.co_argcount] + [k for k in named if k in names]):
                return True
    return False


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
        if not any(isinstance(a, gast.Name) and a.id in activity.active for a in call.args):
            return
        try:
            info = activity.call_info(call)
        except Exception:       # noqa: BLE001  (a call the analysis did not classify)
            return
        for a in call.args:
            if not (isinstance(a, gast.Name) and a.id in activity.active):
                continue
            receiving = _receiving_parameters(info, call, activity, {a.id})
            if receiving is None:
                continue
            fn, given = receiving
            wrt = sorted(given & _gradient_parameters(fn))
            what = first_pass_constant(a.id, frames, activity, params) if wrt else None
            if what is not None:
                raise CompileError(
                    f"{fn.__name__}() takes dlgradient with respect to its parameter {wrt[0]!r}, and this "
                    f"call in a loop passes there {a.id!r}, which on the loop's first pass is {what}, not "
                    f"traced (only later passes bind it to traced values): {fn.__name__}() would differentiate "
                    f"a constant. Make {a.id!r} a dlarray passed to dlfeval (or computed from one) before the loop",
                    filename, getattr(st, "lineno", fdef.lineno), "dlgradient")
    walk(fdef.body, [])
    del walk        # (a recursive closure holding the function: freed now, not by the cyclic collector)


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


def _structure(kind) -> bool:
    return isinstance(kind, tuple) and bool(kind) and kind[0] in ("seq", "map", "obj")


def _array(activity, name: str) -> bool:
    return name in activity.arrays or leaf_kind(activity.kinds.get(name)) is not None
