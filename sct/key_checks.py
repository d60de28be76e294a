"""Traced values used as dict keys.

A dict's keys carry no derivative: sct differentiates a dict through its values, and a key read
back as a value (``d.items()``, ``list(d)``, ``max(d)``, ``for k in d``) is a constant to it.  A key
computed from a traced value (``{x[0]: w}``, ``d[v] = i``, ``{v: i for i, v in enumerate(x)}``,
``dict(zip(x, ys))``) would give a silently wrong gradient wherever the program reads it back
(``sum(k * v for k, v in d.items())`` lost the part through ``k``).  Such a key is refused at the
user's line; keys computed from constants (names, ints, strings, a loop over a constant list) are
not touched, and neither are lookups ``d[k]`` (a lookup's value does not depend smoothly on k).

The check runs on the normalized function after the activity analysis: the dict displays, the
stores into names known to hold a dict (bound to a display, a ``dict(...)`` call, a copy or a new
version of one) and ``dict(pairs)`` where ``pairs`` is a list the function builds of tuples.
"""
from __future__ import annotations

import builtins
from typing import Any, Dict, List, Set

import gast

from . import hooks
from .errors import CompileError
from .ir import loaded_names, store_counts, walk_no_defs
from .runtime import support as rt_support


def _refusal(what: str) -> str:
    return (f"{what}: sct does not follow a derivative through a dict's keys (a key read back, "
            "by d.items(), list(d) or a loop over d, is a constant to it, so the gradient would "
            "miss the part through the key). Key the dict by names, ints or strings and keep the "
            "traced numbers as its values")


def check_traced_keys(fdef: gast.FunctionDef, activity, filename: str) -> Dict[int, Any]:
    """Refuse such keys where a dict is known to be written; ``{id(statement): key}`` for the other stores
    ``n[key] = v``, ``n = rt.setitem(n, key, v)`` of a traced key (into what may be a dict), checked
    when they run (rt.constant_key: no number or float array as the key: ``d = fresh(); d[w[0] * 3.0] =
    v``, ``lst.append({}); lst[0][key] = v``, a dict from a helper, ``copy.copy({})``: were not checked, and
    the gradient through a key read back was lost; red team s49)."""
    active = activity.active
    assigns: List[gast.Assign] = [n for n in walk_no_defs(fdef) if isinstance(n, gast.Assign)
                                  and len(n.targets) == 1]
    if not active or not assigns:
        return {}

    origin_sets = {}

    def origins():
        """The names holding keys read back, and the sequences of pairs (``_key_names``), found at the
        first question: most functions ask none (no dict key depends on a traced value at all)."""
        if not origin_sets:
            origin_sets["keys"], origin_sets["pairs"] = _key_names(bindings, dicts | items_of_dicts, target, active)
        return origin_sets["keys"], origin_sets["pairs"]

    def traced(node) -> bool:
        if node is None or _untraced_result(node):
            return False
        if isinstance(node, gast.Name) and bindings.get(node.id) and \
                all(_untraced_result(v) for v in bindings[node.id]) and stores().get(node.id) == len(bindings[node.id]):
            return False        # (k = id(q) of the loop a comprehension {id(q): ... for q in ls} is lowered to)
        reads = set(loaded_names(node)) & active
        return bool(reads) and bool(reads - origins()[0])

    def fail(node, what):
        raise CompileError(_refusal(what), filename, getattr(node, "lineno", fdef.lineno), "a traced dict key")

    def target(call):
        return activity.resolver.object_of(call.func)

    def stores() -> Dict[str, int]:
        if "stores" not in origin_sets:
            origin_sets["stores"] = store_counts(fdef)
        return origin_sets["stores"]

    def _untraced_result(node) -> bool:
        """``id(q)``, ``len(q)``, ``type(q)`` of Python's builtins: an int or a class whatever ``q`` holds, which
        carries no derivative in Python either (was: ``{id(q): np.sum(q.v ** 2) for q in ls}`` refused)."""
        return isinstance(node, gast.Call) and len(node.args) == 1 and not node.keywords and \
            any(target(node) is f for f in (builtins.id, builtins.len, builtins.type))

    bindings: Dict[str, list] = {}
    for s in assigns:
        if isinstance(s.targets[0], gast.Name):
            bindings.setdefault(s.targets[0].id, []).append(s.value)

    # names that hold a dict wherever they are bound: the greatest such set (``d = {}`` then, in a
    # loop, ``d = rt.setitem(d, k, v)``: each binding makes a dict if d is one; ``h = d``: if d is one),
    # among the names bound at least once otherwise than by a store into themselves (was the least
    # set: a dict stored into in a loop or a comprehension, the form a store takes there, was not
    # one, and its traced keys passed)
    def stored_into_itself(name, v) -> bool:       # d = rt.setitem(d, k, v)
        return isinstance(v, gast.Call) and bool(v.args) and isinstance(v.args[0], gast.Name) and \
            v.args[0].id == name and target(v) is rt_support.setitem

    # the arguments given as dicts (their kinds: ``("map", dict, ...)``), whose keys the caller made:
    # ``{k: params[k] - lr * grads[k] for k in params}`` reads them back as constants
    given = {name for name, kind in activity.kinds.items() if _dict_kind(kind)}
    # and the names bound only to an item of one whose items are dicts (``p[k]`` of a dict of dicts,
    # ``{k: {kk: p[k][kk] - lr * g[k][kk] for kk in p[k]} for k in p}``: its keys the caller's too; was
    # not one, so ``kk`` read as a traced key and the nested comprehension of a pytree update refused)
    item_dicts = _dict_items(bindings, activity.kinds)
    given |= item_dicts
    everything = set(bindings) | given
    dicts: Set[str] = {name for name, values in bindings.items()
                       if any(_makes_dict(v, everything, target) and not stored_into_itself(name, v)
                              for v in values)}
    dicts |= given
    changed = True
    while changed:
        changed = False
        for name in sorted(dicts):
            if name in given and (name not in bindings or name in item_dicts):
                continue
            if not all(_makes_dict(v, dicts, target) for v in bindings[name]):
                dicts.discard(name)
                changed = True

    # names bound (everywhere) to an item of a dict (``inner = d["a"]``): a store into one with a traced
    # key stores into the dict held there (``d["a"][x[0]] = v`` is lowered to that)
    # (also an item of a list or tuple display of dicts, walked or indexed, and a name stored into itself
    # besides: ``for k in q: q[k][float(w[1])] = v`` binds ``q_item = rt.setitem(q_item, ...)`` too,
    # ``q = [{}]; q[0][key] = v`` and ``for dd in lst: dd[key] = v`` read items of a list of dicts; were
    # not checked, and a key read back after gave a gradient without the part through it: red team s49)
    def holds_dicts(v, names) -> bool:
        if isinstance(v, (gast.List, gast.Tuple)):
            return any(isinstance(e, gast.Dict) or isinstance(e, gast.Name) and e.id in dicts for e in v.elts)
        return isinstance(v, gast.Call) and len(v.args) == 1 and isinstance(v.args[0], gast.Name) and \
            v.args[0].id in names and target(v) is rt_support.as_sequence

    holders = {name for name, values in bindings.items() if values}
    while True:
        kept = {name for name in holders if any(holds_dicts(v, holders) for v in bindings[name]) and all(
            holds_dicts(v, holders) or stored_into_itself(name, v) or isinstance(v, gast.Name) and v.id in holders
            for v in bindings[name])}
        if kept == holders:
            break
        holders = kept
    items_of_dicts = {name for name, values in bindings.items() if values and any(
        isinstance(v, gast.Subscript) for v in values) and all(
        isinstance(v, gast.Subscript) and isinstance(v.value, gast.Name) and v.value.id in dicts | holders or
        stored_into_itself(name, v) for v in values)}

    def pair_keys_traced(name: str, seen: Set[str]) -> bool:
        """Does the list ``name`` (of (key, value) tuples, built here) hold a traced key?"""
        if name in seen:
            return False
        seen.add(name)
        for v in bindings.get(name, ()):
            if isinstance(v, gast.Name) and pair_keys_traced(v.id, seen):
                return True
            if isinstance(v, gast.BinOp) and isinstance(v.op, gast.Add):
                # pairs = pairs + [(k, v)] (a loop's append): the displays added are checked too
                if any(isinstance(o, gast.Name) and pair_keys_traced(o.id, seen) or
                       isinstance(o, (gast.List, gast.Tuple)) and display_keys_traced(o)
                       for o in (v.left, v.right)):
                    return True
            if isinstance(v, (gast.List, gast.Tuple)) and display_keys_traced(v):
                return True
            # list(pairs), sorted(pairs), tuple(pairs), reversed(pairs): the same pairs
            if isinstance(v, gast.Call) and target(v) in (list, sorted, tuple, reversed) and v.args and \
                    isinstance(v.args[0], gast.Name) and pair_keys_traced(v.args[0].id, seen):
                return True
        return False

    def display_keys_traced(v) -> bool:
        for e in v.elts:
            if isinstance(e, (gast.Tuple, gast.List)) and e.elts and traced(e.elts[0]):
                return True
            if isinstance(e, gast.Name) and key_of_pair_traced(e.id, set()):
                return True
        return False

    def key_of_pair_traced(name: str, seen: Set[str]) -> bool:
        if name in seen:
            return False
        seen.add(name)
        for v in bindings.get(name, ()):
            if isinstance(v, (gast.Tuple, gast.List)):
                if v.elts and traced(v.elts[0]):
                    return True
            elif isinstance(v, gast.Name):
                if key_of_pair_traced(v.id, seen):
                    return True
            elif isinstance(v, gast.Subscript) and isinstance(v.value, gast.Name) and v.value.id in origins()[1]:
                continue                 # a (key, value) pair of a dict's items(): its key is checked
            elif traced(v):              # a pair a helper or lambda made of traced values: its key unknown
                return True
        return False

    stored_dicts = dicts | items_of_dicts      # what a store ``n[k] = v`` / rt.setitem(n, k, v) writes a key into
    array_receiver = getattr(activity, "array_receiver", None)

    def walk_of(name) -> bool:
        """``seq = rt.as_sequence(q)``: what a for loop over ``q`` walks (not an array's)."""
        values = bindings.get(name)
        return bool(values) and all(
            isinstance(v, gast.Call) and target(v) is rt_support.as_sequence and v.args and
            not (isinstance(v.args[0], gast.Name) and array_receiver is not None and array_receiver(v.args[0].id))
            for v in values)

    def read_back(key, depth: int = 0) -> bool:
        """A key bound only to an item read from a container (``for k in q``, ``k = pair[0]``): traced to
        the analysis where the container holds traced values, but its type tells (checked when it runs:
        a string key passes; was refused where ``q`` came from a helper)."""
        values = bindings.get(key.id) if isinstance(key, gast.Name) else None
        return bool(values) and depth < 3 and all(
            isinstance(v, gast.Subscript) and isinstance(v.value, gast.Name) and
            (walk_of(v.value.id) or read_back(v.value, depth + 1)) for v in values)

    checks: Dict[int, Any] = {}
    for s in assigns:
        value, where = s.value, s.targets[0]
        if isinstance(value, gast.Dict):
            for k in value.keys:
                if traced(k):
                    fail(s, "a dict key computed from a traced value")
        if isinstance(where, gast.Subscript) and isinstance(where.value, gast.Name) and traced(where.slice):
            if where.value.id in stored_dicts and not read_back(where.slice):
                fail(s, "a value stored in a dict under a key computed from a traced value")
            checks[id(s)] = where.slice
        if isinstance(value, gast.Call):
            found = target(value)
            if found is rt_support.setitem and len(value.args) >= 2 and isinstance(value.args[0], gast.Name) \
                    and traced(value.args[1]):
                if value.args[0].id in stored_dicts and not read_back(value.args[1]):
                    fail(s, "a value stored in a dict under a key computed from a traced value")
                checks[id(s)] = value.args[1]
            if found is builtins.dict and len(value.args) == 1 and isinstance(value.args[0], gast.Name) and \
                    value.args[0].id in active and pair_keys_traced(value.args[0].id, set()):
                fail(s, "dict() of pairs whose keys are computed from traced values")
    # (recursive closures holding the analysis and its function: freed now, not by the cyclic collector)
    del pair_keys_traced, display_keys_traced, key_of_pair_traced, read_back
    return checks


def _dict_kind(kind) -> bool:
    return isinstance(kind, tuple) and len(kind) > 1 and kind[0] == "map" and isinstance(kind[1], type) and \
        issubclass(kind[1], dict)


def _dict_items(bindings: Dict[str, list], kinds) -> Set[str]:
    """The names bound (everywhere) to an item ``m[key]`` of an argument never bound again whose kind is
    a dict (or of such a name), where that item is a dict by its kind: the item of a constant key present,
    or any item where every item of ``m`` is one (the kinds are the caller's values', checked when the
    cache is hit)."""
    known = {name: kind for name, kind in kinds.items() if _dict_kind(kind) and name not in bindings}
    found: Set[str] = set()
    changed = True
    while changed:
        changed = False
        for name, values in bindings.items():
            if name in found or name in kinds or not values:
                continue
            item_kinds = set()
            for v in values:
                if not (isinstance(v, gast.Subscript) and isinstance(v.value, gast.Name) and v.value.id in known):
                    break
                items = dict(known[v.value.id][2]) if len(known[v.value.id]) > 2 and \
                    isinstance(known[v.value.id][2], tuple) else {}
                key = v.slice.value if isinstance(v.slice, gast.Constant) else None
                distinct = set(items.values())
                kind = items.get(key) if key is not None and key in items else \
                    next(iter(distinct)) if len(distinct) == 1 else \
                    ("map", dict) if items and all(_dict_kind(k) for k in distinct) else None
                if not _dict_kind(kind):
                    break
                item_kinds.add(kind)
            else:
                found.add(name)
                known[name] = item_kinds.pop() if len(item_kinds) == 1 else ("map", dict)
                changed = True
    return found


def _makes_dict(value, dicts: Set[str], target) -> bool:
    if isinstance(value, (gast.Dict, gast.DictComp)):
        return True
    if isinstance(value, gast.Name):
        return value.id in dicts
    if isinstance(value, gast.Call):
        found = target(value)
        if found is builtins.dict:
            return True
        if found is rt_support.setitem:
            return bool(value.args) and isinstance(value.args[0], gast.Name) and value.args[0].id in dicts
        if found is rt_support.dict_merged or found is rt_support.dict_or:
            # d.update(e), {**d, **e}, d | e, d |= e of dicts: a dict whose keys are theirs (was not one, so
            # `for k in d: d.update({k: d[k] * 2})` read k as a traced key and refused it)
            return len(value.args) == 2 and all(isinstance(a, gast.Dict) or isinstance(a, gast.Name) and
                                                a.id in dicts for a in value.args)
        if found is rt_support.inplace_result:
            return bool(value.args) and isinstance(value.args[0], gast.Name) and value.args[0].id in dicts
        if found is not None and found is getattr(hooks.API, "dlgradient", None) and len(value.args) == 2 and \
                isinstance(value.args[1], gast.Name) and value.args[1].id in dicts:
            # the gradient with respect to a dict: a dict of its keys (was not one, so ``for k in g:
            # q[k] = q[k] - lr * g[k]`` read k as a traced key and refused it)
            return True
        func = value.func
        if isinstance(func, gast.Attribute) and func.attr == "copy" and not value.args and \
                isinstance(func.value, gast.Name) and func.value.id in dicts:
            return True
    return False


def _key_names(bindings: Dict[str, list], dicts: Set[str], target, active: Set[str]):
    """Names that hold a key read back from a dict (``k`` of ``for k, v in d.items()`` or of ``for k in
    d``, lowered to items of ``rt.as_sequence(d.items())``; of ``sorted(d.items())``, ``list(d)``, a list
    built of such keys): constants, since a traced key is refused where it is stored (the activity
    analysis, which does not tell a pair's key from its value, finds them active); and the names of
    the sequences of (key, value) pairs.  The greatest sets (a list built in a loop, ``names = []`` then
    ``names = names + [k]``, is one of keys if each binding keeps it one)."""
    def method_of(v, names):
        return isinstance(v, gast.Call) and isinstance(v.func, gast.Attribute) and v.func.attr in names \
            and not v.args and not v.keywords and isinstance(v.func.value, gast.Name)

    def walked(v, names):
        """``rt.as_sequence(n)``, ``list(n)``, ``sorted(n)``, ``tuple(n)``, ``reversed(n)`` of a name in names."""
        if isinstance(v, gast.Call) and len(v.args) == 1 and \
                isinstance(v.args[0], gast.Name) and v.args[0].id in names:
            found = target(v)
            return found is rt_support.as_sequence or any(found is f for f in (list, sorted, tuple, reversed))
        return False

    def item_of(v, names, index=None):
        return isinstance(v, gast.Subscript) and isinstance(v.value, gast.Name) and v.value.id in names and \
            (index is None or isinstance(v.slice, gast.Constant) and v.slice.value == index)

    def all_keys(v, keys, key_lists):
        if isinstance(v, (gast.List, gast.Tuple)):
            return all(isinstance(e, gast.Name) and e.id in keys for e in v.elts)
        if isinstance(v, gast.BinOp) and isinstance(v.op, gast.Add):
            return all(isinstance(o, gast.Name) and o.id in key_lists or
                       isinstance(o, (gast.List, gast.Tuple)) and all_keys(o, keys, key_lists)
                       for o in (v.left, v.right))
        return False

    def constant_key(e) -> bool:
        return isinstance(e, gast.Constant) or isinstance(e, gast.Name) and e.id not in active

    def constant_pair(e) -> bool:
        """A (key, value) display whose key is a constant (``("x", x)``), or a name bound only to one."""
        if isinstance(e, (gast.Tuple, gast.List)):
            return bool(e.elts) and constant_key(e.elts[0])
        return isinstance(e, gast.Name) and bool(bindings.get(e.id)) and all(
            isinstance(v, (gast.Tuple, gast.List)) and v.elts and constant_key(v.elts[0]) for v in bindings[e.id])

    def constant_pairs(v) -> bool:
        """A list display of such pairs (``[("x", x), ("b", b)]``: the items walked by ``{k: v for k, v in
        [...]}``, whose keys are those constants)."""
        return isinstance(v, (gast.List, gast.Tuple)) and all(constant_pair(e) for e in v.elts)

    names = {n for n, values in bindings.items() if values}
    # (only an active name can matter as a key: the others are constants anyway; what each binding
    # reads is found once, not at each round)
    reads = {id(v): set(loaded_names(v)) & active for n in names & active for v in bindings[n]}
    pair_lists, pairs, key_lists, keys = set(names), set(names), set(names), names & active
    while True:
        new_pair_lists = {n for n in pair_lists if all(
            method_of(v, ("items",)) or walked(v, pair_lists) or constant_pairs(v) for v in bindings[n])}
        new_pairs = {n for n in pairs if all(item_of(v, new_pair_lists) for v in bindings[n])}
        new_key_lists = {n for n in key_lists if all(
            method_of(v, ("keys",)) and v.func.value.id in dicts or walked(v, dicts) or
            walked(v, key_lists) or all_keys(v, keys, key_lists) for v in bindings[n])}
        new_keys = {n for n in keys if all(
            item_of(v, new_pairs, 0) or item_of(v, new_key_lists) or
            # computed from keys and constants only (k, k.upper(), f"{k}_m"): a constant too
            not isinstance(v, gast.Subscript) and reads[id(v)] <= keys
            for v in bindings[n])}
        if (new_pair_lists, new_pairs, new_key_lists, new_keys) == (pair_lists, pairs, key_lists, keys):
            return keys, pair_lists
        pair_lists, pairs, key_lists, keys = new_pair_lists, new_pairs, new_key_lists, new_keys
