"""What an item of a list or dict filled in place is, at a site: ``d = {}; d["a"] = x * 2; d["b"] = d["a"] ** 2;
dlgradient(L, d["a"])``.  The normalizer writes each store as a new version of the container (``d_1 =
rt.setitem(d, 'a', d_mul)``, ``lst_1 = lst + [v]``), so ``d["a"]`` at the site is an item of the last version,
``d_2``, while y read the same value through ``d_1``: the adjoint of ``d_2`` alone misses those uses (was: a
zero gradient, also where the only later store was a constant, ``out["n"] = 3``).  ``StoredItems.item`` walks
the versions back to the store of that item and gives the stored value's name (its gradient has every use, through
every version); ``whole`` does so for each item of a container differentiated whole; ``check`` refuses an item of
a version whose value y may have read before a later store into the container that ``item`` could not follow.
A part of ``sites.SiteFinding`` (it reads its ``fdef``, ``facts``, ``act``, ``follow`` and ``fail``).
"""
from __future__ import annotations

import bisect

from typing import Any, Dict, List, Optional, Tuple

import gast

from .ir import walk_nodes

_SETS = ("setitem", "setitem_owned")


def _rt_call(v, names=None) -> bool:
    """Is ``v`` a call of the runtime's (``rt.setitem(...)``), one of ``names`` where given?"""
    return isinstance(v, gast.Call) and isinstance(v.func, gast.Attribute) and isinstance(v.func.value, gast.Name) \
        and v.func.value.id.startswith("rt") and (names is None or v.func.attr in names)


def _const(node) -> Tuple[bool, Any]:
    """(True, value) of a literal key or index (``-1`` too), else (False, None)."""
    if isinstance(node, gast.UnaryOp) and isinstance(node.op, gast.USub) and isinstance(node.operand, gast.Constant) \
            and type(node.operand.value) is int:
        return True, -node.operand.value
    if isinstance(node, gast.Constant) and type(node.value) in (str, int, bool, bytes):
        return True, node.value
    return False, None


class StoredItems:
    """See the module."""

    def __init__(self, finding, selection):
        self.finding, self.selection = finding, selection
        self.fdef, self.facts, self.act, self.fail = finding.fdef, finding.facts, finding.act, finding.fail
        self._binds: Optional[Dict[str, List]] = None

    def binds(self, name: str) -> List:
        """The statements ``name = value`` of the function (a single target)."""
        if self._binds is None:
            binds: Dict[str, List] = {}
            for n in self.finding.nodes():
                if isinstance(n, gast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], gast.Name):
                    binds.setdefault(n.targets[0].id, []).append(n)
            self._binds = binds
        return self._binds.get(name, [])

    def _holds(self, name: str) -> bool:
        """Does ``name`` hold one value for the whole call: bound once outside loops, or an argument never
        bound again?"""
        counts = self.facts.name_counts.get(name, (0, 0))[0]
        return self.finding.follow._once(name) or name in self.facts.params and counts == 1

    # --- the versions of a container ------------------------------------------------------------
    def _chain(self, name: str):
        """The versions of the container ``name`` back to where it was made: (steps, origin), each step
        (kind, version, ...) read from the version's only binding; origin (the display, or None where the
        walk stopped: a version bound more than once, an argument, a store sct does not read here), and
        the name the walk stopped at."""
        steps, seen = [], set()
        while name not in seen:
            seen.add(name)
            binds = self.binds(name)
            if len(binds) != 1 or not self.finding.follow._once(name):
                return steps, None, name
            v = binds[0].value
            if isinstance(v, gast.Name):
                steps.append(("alias", name))
                name = v.id
            elif _rt_call(v, _SETS) and len(v.args) == 3 and not v.keywords and isinstance(v.args[0], gast.Name):
                steps.append(("set", name, v.args[1], v.args[2]))
                name = v.args[0].id
            elif isinstance(v, gast.BinOp) and isinstance(v.op, gast.Add) and isinstance(v.left, gast.Name) and \
                    isinstance(v.right, gast.List) and not any(isinstance(e, gast.Starred) for e in v.right.elts):
                steps.append(("append", name, list(v.right.elts)))      # lst.append(v): lst + [v]
                name = v.left.id
            elif isinstance(v, (gast.Dict, gast.List, gast.Tuple)):
                return steps, v, name
            else:
                return steps, None, name
        return steps, None, name

    def _contents(self, name: str):
        """(kind, keys, values, steps) of the container ``name``, made by a display and stores of literal keys
        and appends only (each version bound once): what it holds at the site; None otherwise."""
        steps, origin, _ = self._chain(name)
        if origin is None or any(isinstance(e, gast.Starred) for e in getattr(origin, "elts", ())):
            return None
        if isinstance(origin, gast.Dict):
            if not all(_const(k)[0] for k in origin.keys):
                return None
            keys, values = [_const(k)[1] for k in origin.keys], list(origin.values)
            kind = "dict"
        else:
            keys, values = None, list(origin.elts)
            kind = "list" if isinstance(origin, gast.List) else "tuple"
        table: Dict[Any, Any] = {} if kind == "dict" else None
        if kind == "dict":
            for k, v in zip(keys, values):
                table[k] = v
        for step in reversed(steps):
            if step[0] == "alias":
                continue
            if step[0] == "append":
                if kind != "list":
                    return None
                values.extend(step[2])
                continue
            known, key = _const(step[2])
            if not known:
                return None
            if kind == "dict":
                table[key] = step[3]
            elif kind == "list" and type(key) is int and -len(values) <= key < len(values):
                values[key] = step[3]
            else:
                return None
        if kind == "dict":
            return kind, list(table), list(table.values())
        return kind, None, values

    # --- step 1: the stored value -----------------------------------------------------------------
    def item(self, name: str, index, resolve):
        """The selection of ``name[index]`` (``name`` a version of a container filled in place, ``index`` a
        literal) as the value stored there: ``resolve(stored)`` where that is a name holding one value, or an
        item of the earliest version that holds the same item (the stores after it are of other items);
        None where ``name`` is not such a version (the caller's item of ``name``)."""
        Selection = self.selection
        known, key = _const(index)
        if not known:
            return None
        steps, origin, stop = self._chain(name)
        if not steps:
            return None
        contents = self._contents(name)
        if contents is not None:
            kind, keys, values = contents
            found = self._lookup(kind, keys, values, key)
            if found is not None and isinstance(found, gast.Name) and self._holds(found.id):
                return resolve(found)
        kind = self._kind(origin)
        # the earliest version holding the same item: the stores after it are provably of other items
        earliest = name
        length = len(contents[2]) if contents is not None and kind != "dict" else None
        for step in steps:
            if step[0] == "alias":
                earliest = self._next(step)
                continue
            if kind in ("list", "tuple") and type(key) is not int or \
                    type(key) is int and key < 0 and kind != "dict" and length is None:
                break
            if step[0] == "set":
                sk_known, sk = _const(step[2])
                if not sk_known or not self._different(kind, key, sk, length):
                    break
            elif step[0] == "append":
                k = key + length if key < 0 else key
                if length is None or k >= length - len(step[2]):
                    break
                key, length = k, length - len(step[2])
            earliest = self._next(step)
        if earliest == name:
            return None
        return Selection("item", of=Selection("root", earliest), index=gast.Constant(value=key, kind=None))

    def _next(self, step) -> str:
        """The version a step's version was made from."""
        v = self.binds(step[1])[0].value
        return v.id if isinstance(v, gast.Name) else v.args[0].id if isinstance(v, gast.Call) else v.left.id

    @staticmethod
    def _kind(origin) -> Optional[str]:
        return "dict" if isinstance(origin, gast.Dict) else "list" if isinstance(origin, gast.List) else \
            "tuple" if isinstance(origin, gast.Tuple) else None

    @staticmethod
    def _different(kind, a, b, length=None) -> bool:
        """Are the literal keys (indices) ``a`` and ``b`` provably different items of a container of ``kind``
        (None: a dict or a list)?"""
        if a == b:
            return False
        if isinstance(a, int) and isinstance(b, int) and (a < 0 or b < 0) and kind != "dict":
            if length is None:
                return False
            return (a + length if a < 0 else a) != (b + length if b < 0 else b)
        return True

    @staticmethod
    def _lookup(kind, keys, values, key):
        if kind == "dict":
            return values[keys.index(key)] if key in keys else None
        if type(key) is int and -len(values) <= key < len(values):
            return values[key]
        return None

    def whole(self, name: str, resolve):
        """The selection of the container ``name`` (a version of one filled in place) as a display of the
        values stored into it, each a name holding one value; None otherwise."""
        Selection = self.selection
        if not self._chain(name)[0]:
            return None
        contents = self._contents(name)
        if contents is None:
            return None
        kind, keys, values = contents
        if not values or not all(isinstance(v, gast.Name) and self._holds(v.id) for v in values):
            return None
        parts = tuple(resolve(v) for v in values)
        if kind == "dict":
            return Selection("dict", keys=tuple(gast.Constant(value=k, kind=None) for k in keys), parts=parts)
        return Selection(kind, parts=parts)

    def expand(self, sel, resolve):
        """``sel`` with each container it selects whole (a root, or a part of a list, tuple or dict of x's) read
        as ``whole`` reads it, where it can."""
        import dataclasses
        if sel.kind == "root":
            return self.whole(sel.name, resolve) or sel
        if sel.kind in ("list", "tuple", "dict"):
            return dataclasses.replace(sel, parts=tuple(self.expand(p, resolve) for p in sel.parts))
        return sel

    # --- step 2: a refusal --------------------------------------------------------------------------
    def check(self, sel, stmt, frames) -> None:
        """Refuse an item of a container's version (or the container whole) that y may have read, through
        that name or an earlier version, before a later store of another item into the container that ``item``
        could not follow (``state["t"] = t`` in a loop after ``L = L + sum(state["h"])``; a branch's
        ``d.setdefault("b", ...)`` after a read of ``d["a"]``): the adjoint of the version where the sweep
        undoes its last binding misses those reads (was: zeros)."""
        if sel.kind == "item" and sel.of is not None:
            nested = sel.of.kind == "item"
            while sel.of is not None and sel.of.kind == "item":
                sel = sel.of
            if sel.of is not None and sel.of.kind == "root":
                # (an item of an item: a store of the outer item may be a new version of the inner container
                # holding the same items, so any store and any read counts)
                self._check_root(sel.of.name, None if nested else sel.index, stmt, frames, nested)
        elif sel.kind == "root":
            self._check_root(sel.name, None, stmt, frames)
        else:
            for part in sel.parts:
                self.check(part, stmt, frames)

    def _family(self, name: str):
        """The versions the container ``name`` was made from (through its bindings, every one: ``d =
        rt.setitem_owned(d, k, v)`` in a loop), the ids of the names that link them, its origins' kind, and
        the bindings storing into it ((statement, key node or None))."""
        from .copy_checks import _BUILT_BY_RT
        family, links, rebinds, origins, todo = set(), set(), [], set(), [name]
        self._origin_binds: Dict[str, List] = {}
        while todo:
            n = todo.pop()
            if n in family:
                continue
            family.add(n)
            for a in self.binds(n):
                v = a.value
                if isinstance(v, gast.Name):
                    links.add(id(v))
                    todo.append(v.id)
                elif _rt_call(v, _SETS) and len(v.args) == 3 and isinstance(v.args[0], gast.Name):
                    links.add(id(v.args[0]))
                    todo.append(v.args[0].id)
                    rebinds.append((a, v.args[1]))
                elif isinstance(v, gast.BinOp) and isinstance(v.op, (gast.Add, gast.Mult)) or _rt_call(v, _BUILT_BY_RT):
                    parts = [v.left, v.right] if isinstance(v, gast.BinOp) else list(v.args)
                    held = [o for o in parts if isinstance(o, gast.Name) and o.id not in self.act.arrays]
                    if isinstance(v, gast.BinOp) and not any(
                            isinstance(o, (gast.List, gast.Tuple)) or isinstance(o, gast.Name) and
                            (self.finding.follow._structure(o.id) or o.id in self.act.lists) for o in parts):
                        held = []           # numbers' or arrays' arithmetic (``d_item * 3``): a new value
                        origins.add(None)
                        continue
                    for o in held:
                        links.add(id(o))
                        todo.append(o.id)
                    rebinds.append((a, None))
                else:
                    origins.add(self._kind(v))
                    self._origin_binds.setdefault(n, []).append(a)
        kind = origins.pop() if len(origins) == 1 else None
        return family, links, rebinds, kind

    def _positions(self) -> Dict[int, Tuple]:
        """id(node) -> (its statement's place in the function's order, the loops around it, the statement)."""
        if getattr(self, "_pos", None) is None:
            pos: Dict[int, Tuple] = {}
            count = [0]

            def visit(block, loops, conds=()):
                for st in block:
                    count[0] += 1
                    here = (count[0], loops, st, conds)
                    pos[id(st)] = here
                    inner = loops + (id(st),) if isinstance(st, (gast.For, gast.While)) else loops
                    within = conds + (id(st),) if isinstance(st, gast.If) else conds
                    heads = [getattr(st, f, None) for f in ("target", "iter", "test")] + \
                        [i.context_expr for i in getattr(st, "items", [])]
                    if not any(hasattr(st, f) for f in ("body", "orelse", "handlers", "finalbody")):
                        heads = [st]
                    for h in heads:
                        for m in walk_nodes(h) if h is not None else ():
                            pos[id(m)] = (count[0], inner, st, conds)
                    visit(getattr(st, "body", []) if not isinstance(st, gast.FunctionDef) else [], inner, within)
                    visit(getattr(st, "orelse", []) or [], loops, within if within != conds else conds + (id(st),))
                    for handler in getattr(st, "handlers", []) or []:
                        visit(handler.body, loops, conds + (id(st),))
                    visit(getattr(st, "finalbody", []) or [], loops, conds)
            visit(self.fdef.body, ())
            self._pos = pos
        return self._pos

    def _check_root(self, name: str, index, stmt, frames, nested: bool = False) -> None:
        if name in self.act.arrays or name not in self.act.active:
            return
        known, key = _const(index) if index is not None else (False, None)
        family, links, rebinds, kind = self._family(name)
        every_store = rebinds
        if known:
            rebinds = [(a, k) for a, k in rebinds if not (k is not None and _const(k)[0] and not
                                                          self._different(kind, key, _const(k)[1]))]
        if not rebinds:
            return
        pos = self._positions()
        block, index_in = frames[-1][0], frames[-1][1]
        line = getattr(stmt, "lineno", None)
        site_nodes = {id(m) for j, st in enumerate(block) if j <= index_in and getattr(st, "lineno", None) == line
                      for m in walk_nodes(st)}
        slices, lens = {}, set()
        for n in self.finding.nodes():
            if isinstance(n, gast.Subscript) and isinstance(n.value, gast.Name):
                slices[id(n.value)] = n.slice
            elif isinstance(n, gast.Call) and isinstance(n.func, gast.Name) and n.func.id == "len" and \
                    len(n.args) == 1 and isinstance(n.args[0], gast.Name):
                lens.add(id(n.args[0]))
        reads, read_keys = [], {}
        for n in self.finding.nodes():
            if not (isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load) and n.id in family) or \
                    id(n) in links or id(n) in site_nodes or id(n) in lens:
                continue
            s_known, s_key = _const(slices[id(n)]) if id(n) in slices else (False, None)
            if known and s_known and self._different(kind, key, s_key):
                continue
            reads.append(n)
            read_keys[id(n)] = (s_known, s_key)
        site = pos.get(id(stmt))
        # a read that some store of its key always replaces before the site reads an earlier value, whatever the
        # other stores are (was: checked against the store at hand only, so ``p["b"]`` read in ``p["w"] = f(p["w"],
        # p["b"])`` before ``p["b"] = g(p["b"])`` in a loop was refused for the store of "w")
        stores = [(pos.get(id(a)), k) for a, k in every_store]
        stores = [(at, k) for at, k in stores if at is not None and site is not None and at[0] < site[0]]
        replaced = {id(r) for r in reads
                    if any(self._overwritten(read_keys[id(r)], k, pos.get(id(r)), at) for at, k in stores)}
        for b, k in rebinds:
            at = pos.get(id(b))
            if at is None or site is None or at[0] >= site[0]:
                continue            # stored after the site: the item at the site is as before
            for r in reads:
                rat = pos.get(id(r))
                if id(r) in replaced:
                    continue
                if rat is None or (rat[0] < at[0] or any(lp in at[1] and lp not in site[1] for lp in rat[1])) and \
                        not self._made_between(rat, r.id, b, at):
                    self._refuse(name, "..." if nested else index, known, key, r, rat, b, stmt)

    def _overwritten(self, read_key, store_key, rat, at) -> bool:
        """Does the store at ``at`` always replace the item the read at ``rat`` reads, after it (one constant
        key, the same loops and branches, the read first, nothing between them that leaves the block)? The
        read then sees an earlier value, never the one at the site (``p["w"] = np.sin(p["w"]) * 2.0`` in a
        loop before ``dlgradient(y, p)``: was refused as a read before a later store)."""
        if rat is None or not read_key[0] or store_key is None:
            return False
        s_known, s_key = _const(store_key)
        if not (s_known and type(s_key) is type(read_key[1]) and s_key == read_key[1]):
            return False
        if not (rat[0] < at[0] and rat[1] == at[1] and rat[3] == at[3]):
            return False
        if getattr(self, "_leaving", None) is None:      # the places of statements that may leave a block
            leaves = (gast.Break, gast.Continue, gast.Return, gast.Raise, gast.Try, gast.With)
            self._leaving = sorted({place for place, _, st, _ in self._positions().values() if isinstance(st, leaves)})
        k = bisect.bisect_right(self._leaving, rat[0])
        return not (k < len(self._leaving) and self._leaving[k] < at[0])

    def _made_between(self, rat, read: str, b, at) -> bool:
        """Does the read at ``rat`` of the name ``read`` see another container than the one ``b`` stores into,
        made anew (a display, ``{}``) before ``b`` on every run (``p = {k: v - lr * g[k] for k, v in
        p.items()}``: the comprehension's new dict, which ``p`` names only after it is filled), from values
        that are not items read from that name?"""
        v = b.value
        names = {b.targets[0].id} | ({v.args[0].id} if isinstance(v, gast.Call) and v.args and
                                     isinstance(v.args[0], gast.Name) else set())
        if read in names or not (isinstance(v, gast.Call) and len(v.args) == 3 and
                                 isinstance(v.args[2], gast.Name) and self._new_value(v.args[2].id)):
            return False
        pos = self._positions()
        rebound = [pos.get(id(a), (None,))[0] for a in self.binds(read)]
        for n in names:
            for o in self._origin_binds.get(n, ()):
                oat = pos.get(id(o))
                if oat is not None and oat[0] < at[0] and set(oat[1]) <= set(rat[1]) & set(at[1]) and \
                        set(oat[3]) <= set(at[3]) and \
                        not any(k is None or oat[0] < k < at[0] for k in rebound):
                    return True
        return False

    def _new_value(self, name: str) -> bool:
        """Is ``name`` bound only to values computed by arithmetic or a call (a new array), not to a name,
        an item or an attribute (which may be an item of another container)?"""
        binds = self.binds(name)
        return bool(binds) and all(isinstance(a.value, (gast.BinOp, gast.UnaryOp, gast.Call)) and
                                   not _rt_call(a.value) for a in binds)

    def _refuse(self, name, index, known, key, r, rat, b, stmt) -> None:
        user = self.finding.copies._user_name(name)
        what = f"{user}[{key!r}]" if known else user if index is None else f"{user}[...]"
        read_line = getattr(rat[2], "lineno", "?") if rat is not None else "?"
        self.fail(stmt, f"dlgradient: cannot differentiate with respect to {what}: y may read that value on "
                  f"line {read_line}, before line {getattr(b, 'lineno', '?')} stores into {user!r} again (in a "
                  f"loop or a branch, or with a key sct cannot compare), and sct follows the item through "
                  f"{user!r} as it is after that store only; the gradient would miss the uses before it. Bind the "
                  f"value to a name where it is made and differentiate with respect to that name (h = ...; "
                  f"{user}[...] = h; dlgradient(y, h)), or differentiate before the later store", "dlgradient")
