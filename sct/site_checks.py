"""Checks of a site against the code around it, refused with the user's line where the
gradient would not be the exact derivative.
"""
from __future__ import annotations

import types
from typing import Dict, List, Set, Tuple

import gast

import numpy as np

from .alias_state import VIEW_FUNCTIONS, VIEW_METHODS, WRITING_FUNCTIONS
from .callee_effects import _returns_fresh
from .ir import root_name, walk_nodes
from .liveness import Liveness
from .plans import CallKind, FunctionFacts
from .sites import Site, _in_order, _roots


class SiteChecks:
    """Refusals of sites whose gradient sct cannot model exactly: each check reads the site, the
    function and its facts, and the reachability of ``liveness.Liveness``; it returns nothing
    or refuses."""

    def __init__(self, fdef: gast.FunctionDef, facts: FunctionFacts, live: Liveness):
        self.fdef = fdef
        self.facts = facts
        self.live = live
        self.fail = facts.fail
        self.sites: Tuple[Site, ...] = ()       # every site of the function (``reverse.sweep_functions``)

    def check_arguments_kept(self, site: Site):
        """A gradient differentiated again is recomputed from the function's arguments: an
        argument reassigned before the site would be read at its new value."""
        for block, index, _, _ in site.frames:
            for st in block[:index]:
                for n in walk_nodes(st):
                    if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store) and \
                            n.id in self.facts.params:
                        self.fail(site.stmt, f"the gradient on line {site.line} is differentiated "
                                  f"again, and the argument {n.id!r} is reassigned before it (line "
                                  f"{getattr(st, 'lineno', '?')}): sct recomputes that gradient from "
                                  f"the arguments. Give the new value another name (e.g. "
                                  f"{n.id}2 = ...)", "dlgradient")

    def check_outside_writes(self, site: Site):
        """A gradient differentiated again recomputes the statements before it, on the objects as
        the first run left them: a write there into an item or attribute of an object from outside
        the function (a global's, a closure's, an argument's, or a name taken from one) that the
        code before it reads (``COUNT[0] += 1``, ``np.add.at(z, i, v)``, a write in a loop that
        reads it) would read the changed object, and write it twice."""
        outside = _OutsideObjects(self.fdef, self.facts, getattr(self.live, "act", None))
        seen: Set[str] = set()
        for block, index, parent, _ in site.frames:
            in_loop = isinstance(parent, (gast.For, gast.While))
            loop_reads = {r for s in block for r in outside.reads(s)} if in_loop else set()
            self._visit_outside_writes(outside, site, block[:index], seen, loop_reads)

    def _visit_outside_writes(self, outside: "_OutsideObjects", site: Site, block, seen: Set[str],
                              loop_reads: Set[str]):
        """Refuse a write in ``block`` into an outside object read before it (``seen``), read in
        the enclosing loops (``loop_reads``), or read by the write itself."""
        for st in block:
            seen |= outside.value_reads(st)
            for r, rmw in outside.writes(st):
                other = None if rmw or r in seen or r in loop_reads else \
                    next((o for o in sorted(seen | loop_reads) if outside.may_alias(r, o, st)), None)
                if other is not None:       # (x = dlarray(BUF), ws = BUF; H.b is BUF: another name of it)
                    self.fail(st, f"this line writes into {r}, an object from outside {self.facts.fname}() "
                              f"(a global, a closure value or an argument), and the code before the "
                              f"dlgradient on line {site.line} reads {other}, which may be {r} or hold it "
                              f"(or share its memory); that gradient is differentiated again, so sct "
                              f"recomputes this code, on the objects as the first run left them, and would "
                              f"read the new values. Make the change after the gradients, or in a helper "
                              f"function (it runs once)", "write")
                if rmw or r in seen or r in loop_reads:
                    self.fail(st, f"this line writes into {r}, an object from outside {self.facts.fname}() "
                              f"(a global, a closure value or an argument), which the code before the "
                              f"dlgradient on line {site.line} reads; that gradient is differentiated "
                              f"again, so sct recomputes this code, on {r} as the first run left it: "
                              f"the write would happen twice. Make the change after the gradients, or "
                              f"in a helper function (it runs once)", "write")
            if isinstance(st, (gast.For, gast.While)):
                inner = loop_reads | {r for s in st.body for r in outside.reads(s)} | outside.value_reads(st)
                self._visit_outside_writes(outside, site, st.body, seen, inner)
            elif isinstance(st, gast.If):
                self._visit_outside_writes(outside, site, st.body, seen, loop_reads)
                self._visit_outside_writes(outside, site, st.orelse, seen, loop_reads)
            elif isinstance(st, gast.With):
                self._visit_outside_writes(outside, site, st.body, seen, loop_reads)

    def check_roots_reached(self, site: Site, roots: List[str]):
        """A name made on the site's own line that y does not reach (a list built by a
        comprehension in the call) is a new value: refuse rather than answer zeros."""
        line_only = []
        for r in roots:
            lines = {getattr(st, "lineno", None) for st in _in_order(self.fdef.body)
                     if isinstance(st, gast.Assign) and r in {n.id for t in st.targets
                                                               for n in walk_nodes(t)
                                                               if isinstance(n, gast.Name)}}
            if lines == {site.line} and r not in self.facts.params:
                line_only.append(r)
        if not line_only:
            return
        R = {site.y}
        for block, index, parent, depth in reversed(site.frames):
            R = self.live.reach(block[:index], R, None)
        for r in line_only:
            if r not in R:
                self.fail(site.stmt, f"{site.kind}: this x is a new value made in the call itself "
                          "(an operation such as 2 * a, or a comprehension), which y, computed "
                          "before, cannot depend on. Pass a name, an element or attribute "
                          "(p[\"w\"], net.W) or a list, tuple or dict of them; for a computed value, "
                          "assign it to a name before computing y; for items chosen in a loop, "
                          "differentiate with respect to the whole structure and select from the "
                          "gradient, e.g. g = dlgradient(y, a); [g[i] for i in idx]", str(site.kind))

    def check_sibling_results(self, site: Site, roots: List[str]):
        """``h, out = helper(x); dlgradient(f(out), h)``: x is one result of a call of the user's code
        (a helper, a method, ``forward(net, X, Outputs=[...])``) and y depends on the call's other
        results, which the callee may have computed from it (Grad-CAM: the feature map and the scores of
        one forward call). sct differentiates a call from its arguments to its results, not from one
        result to another, so the answer would be zeros where MATLAB's trace (and the same code written
        inline) gives the derivative: refuse."""
        act = self.live.act
        defs: Dict[str, List[gast.Assign]] = {}
        for st in _in_order(self.fdef.body):
            if isinstance(st, gast.Assign) and isinstance(st.targets[0], gast.Name):
                defs.setdefault(st.targets[0].id, []).append(st)
        self._check_sibling_parts(site, defs, act)
        for r in roots:
            if r in self.facts.params or r == self.facts.vararg:
                continue
            for call_name, call_st in self._result_of_call(r, defs, act):
                R = {site.y}
                relevant = set(act.active) - {r}
                for block, index, _, _ in reversed(site.frames):
                    R = self.live.reach(block[:index], R, relevant)
                if call_name in R:
                    self.fail(site.stmt, f"{site.kind} with respect to {r!r}, a result of the call on line "
                              f"{getattr(call_st, 'lineno', '?')}, while y depends on that call's other "
                              f"results: the call may have computed them from {r!r} (in MATLAB's trace, and in "
                              f"the same code written inline, the derivative flows through them), but sct "
                              f"follows a call's derivative from its arguments to its results only, so the "
                              f"answer would be zeros. Compute {r!r} with one call and what y needs from it "
                              f"in this function (or in a second call that takes {r!r} as an argument)",
                              str(site.kind))

    def _check_sibling_parts(self, site: Site, defs: Dict[str, List[gast.Assign]], act):
        """``dlgradient(f(d["out"]), d["h"])`` with ``d = helper(x)``: the same as
        ``check_sibling_results`` for an item or attribute of a call's result selected as x, where y
        reads another item or attribute of it (or the whole result)."""
        firsts: List[Tuple[str, Tuple]] = []

        def walk(sel):
            if sel.kind in ("item", "attr") and sel.of is not None:
                if sel.of.kind == "root":
                    key = ("attr", sel.name) if sel.kind == "attr" else \
                        ("item", sel.index.value) if isinstance(sel.index, gast.Constant) else None
                    firsts.append((sel.of.name, key))
                else:
                    walk(sel.of)
            for part in sel.parts:
                walk(part)
            if sel.kind == "star" and sel.of is not None:
                walk(sel.of)
        for sel in site.sels or ():
            walk(sel)
        R = None
        for r, key in firsts:
            if r in self.facts.params or r == self.facts.vararg:
                continue
            calls = self._result_of_call(r, defs, act, include_self=True)
            if not calls:
                continue
            if R is None:
                R = {site.y}
                for block, index, _, _ in reversed(site.frames):
                    R = self.live.reach(block[:index], R, None)
            for st in _in_order(self.fdef.body):
                if not (isinstance(st, gast.Assign) and isinstance(st.targets[0], gast.Name) and
                        st.targets[0].id in R and st.targets[0].id in act.active):
                    continue
                value = st.value
                if isinstance(value, gast.Attribute) and isinstance(value.value, gast.Name) and \
                        value.value.id == r:
                    if ("attr", value.attr) == key:
                        continue
                elif isinstance(value, gast.Subscript) and isinstance(value.value, gast.Name) and \
                        value.value.id == r:
                    if isinstance(value.slice, gast.Constant) and ("item", value.slice.value) == key:
                        continue
                elif r not in self.live.operands(st, None):
                    continue
                self.fail(site.stmt, f"dlgradient with respect to a part of {r!r}, the result of the call "
                          f"on line {getattr(calls[0][1], 'lineno', '?')}, while y depends on its other "
                          f"parts (line {getattr(st, 'lineno', '?')}): the call may have computed them from "
                          f"the part selected (in MATLAB's trace, and in the same code written inline, the "
                          f"derivative flows through them), but sct follows a call's derivative from its "
                          f"arguments to its results only, so the answer would be zeros. Compute that part "
                          f"with one call and what y needs from it in this function", "dlgradient")

    @staticmethod
    def _result_of_call(name: str, defs: Dict[str, List[gast.Assign]], act,
                        include_self: bool = False) -> List[Tuple[str, gast.Assign]]:
        """The calls of the user's code (not ops) whose result ``name`` is an item or field of:
        ``name = t[0]`` after ``t = helper(x)`` (through items of items), as (the call's target, the
        call's statement)."""
        out: List[Tuple[str, gast.Assign]] = []
        seen: Set[str] = set()
        todo = [(name, not include_self)]        # (a name, whether it is ``name`` itself, whole)
        while todo:
            n, whole = todo.pop()
            if n in seen:
                continue
            seen.add(n)
            for st in defs.get(n, ()):
                value = st.value
                if isinstance(value, (gast.Subscript, gast.Attribute)) and isinstance(value.value, gast.Name):
                    todo.append((value.value.id, False))
                elif isinstance(value, gast.Name):
                    todo.append((value.id, whole))      # a second name of one (``s = r; h = s[0]``)
                elif isinstance(value, gast.Call) and len(value.args) == 1 and \
                        isinstance(value.args[0], gast.Name) and (
                            isinstance(value.func, gast.Attribute) and value.func.attr in ("listed", "as_sequence") or
                            isinstance(value.func, gast.Name) and value.func.id in ("list", "tuple")):
                    todo.append((value.args[0].id, False))   # its items (``*front, last = helper(x)``)
                elif isinstance(value, gast.Call) and not whole:
                    info = act.call_info(value)
                    if info.kind in (CallKind.FUNCTION, CallKind.METHOD) and info.rule is None:
                        out.append((n, st))
        return out

    def check_attribute_stores(self, site: Site):
        """``dlgradient(y, m.W)`` after ``m.W = ...``: the adjoint of m is that of the object
        passed in, not of its changed field; refuse rather than answer for the old field."""
        # an attribute on a selected path set here (by any name: ``sub = net.l1; sub.W = ...``), or any
        # attribute of an object selected whole: the adjoint would be the old field's
        on_paths = set().union(*(_attributes(sel) for sel in site.sels)) if site.sels else set()
        selected_whole = set().union(*(_whole(sel) for sel in site.sels)) if site.sels else set()
        later = _after_every_site(self.fdef, self.sites)
        for st in _in_order(self.fdef.body):
            if id(st) in later:
                continue
            if isinstance(st, gast.Assign) and isinstance(st.targets[0], gast.Attribute) and \
                    (st.targets[0].attr in on_paths or (isinstance(st.targets[0].value, gast.Name) and
                                                        st.targets[0].value.id in selected_whole)):
                target = st.targets[0]
                if target.attr not in on_paths:
                    # (another field of an object taken whole, ``self.last = out``: was told to "assign the new
                    # value to a name", where the fields differentiated are never assigned; red56c F4)
                    obj = target.value.id
                    line = getattr(st, 'lineno', '?')
                    self.fail(site.stmt, f"dlgradient with respect to {obj!r} as a whole, in a function that "
                              f"assigns an attribute of it, {obj}.{target.attr} (line {line}): sct does not follow "
                              f"an object's fields as they change, and the gradient of {obj} would have that field "
                              f"too. Differentiate with respect to the fields the loss reads "
                              f"(`dlgradient(y, [{obj}.<field>, ...])`), or keep {target.attr!r} outside {obj}",
                              "dlgradient")
                self.fail(site.stmt, f"dlgradient with respect to an object or an attribute, in a "
                          f"function that assigns an attribute (line {getattr(st, 'lineno', '?')}): "
                          "sct does not follow the object's fields as they change. Assign the new "
                          "value to a name and differentiate with respect to that name", "dlgradient")

    def check_through_gradients(self, site: Site, roots: List[str], inner: List[Site]):
        """An earlier gradient that this y depends on (``inner``: the earlier sites differentiated
        again) is recomputed from the function's arguments, so the derivative through it reaches
        only arguments: refuse a root that is an intermediate value that gradient depends on."""
        intermediate = [r for r in roots if r not in self.facts.params and r != self.facts.vararg]
        if not inner or not intermediate:
            return

        def reach_of(s: Site, start: Set[str]) -> Set[str]:
            R = set(start)
            for block, index, _, _ in reversed(s.frames):
                R = self.live.reach(block[:index], R, None)
            return R
        R = reach_of(site, {site.y})
        for s in inner:
            if s.stmt.targets[0].id in R:
                hit = [r for r in intermediate if r in reach_of(s, {s.y})]
                if hit:
                    self.fail(site.stmt, f"y depends on the gradient computed on line {s.line}, which "
                              f"sct recomputes from the arguments of {self.facts.fname}(); the derivative "
                              f"through it with respect to the intermediate value {hit[0]!r} is not "
                              f"modelled. Differentiate with respect to an argument of "
                              f"{self.facts.fname}(), or compute that gradient with "
                              "EnableHigherDerivatives=False if it is meant as a constant",
                              "dlgradient")


# builtins whose value is a new number, string or array, never a part of what they are given
_FRESH_BUILTINS = (float, int, complex, bool, len, str, repr, abs, round, sum, any, all, isinstance, hash,
                   format, print)


def _attributes(sel) -> Set[str]:
    """The attribute names on a selection's paths (``net.l1.W``: l1, W)."""
    out = {sel.name} if sel.kind == "attr" else set()
    for inner in ((sel.of,) if sel.of is not None else ()) + tuple(sel.parts):
        out |= _attributes(inner)
    return out


def _whole(sel) -> Set[str]:
    """The names a selection takes whole (``dlgradient(y, net)``, ``[net, x]``), not through an item or attribute
    of theirs."""
    if sel.kind == "root":
        return {sel.name}
    if sel.kind == "star" and sel.of is not None:
        return _whole(sel.of)
    out: Set[str] = set()
    for inner in sel.parts:
        out |= _whole(inner)
    return out


def _after_every_site(fdef, sites) -> Set[int]:
    """The ids of the statements that run after every site's last run (after each site in source order, and
    in no loop holding a site).  No gradient is taken after such a statement, so a field it assigns is not
    differentiated (``m.W = m.W - lr * gW`` after ``gW, gb = dlgradient(loss, m.W, m.b)``, red55u F1b): no
    sweep runs after it, and none recomputes the code before its site from the arguments after it (a second
    derivative's sweep is a later site).  None where the sites are not known, nor where a def or lambda nested
    here (compiled apart, called at any time) may take a gradient of its own after it."""
    if not sites or any(isinstance(n, (gast.FunctionDef, gast.Lambda)) and n is not fdef for n in walk_nodes(fdef)):
        return set()
    stmts = list(_in_order(fdef.body))
    at = {id(st): k for k, st in enumerate(stmts)}
    if any(id(s.stmt) not in at for s in sites):
        return set()
    start = max(at[id(s.stmt)] for s in sites) + 1
    looped = {id(n) for s in sites for _, _, parent, _ in s.frames if isinstance(parent, (gast.For, gast.While))
              for n in _in_order(parent.body + parent.orelse)}
    return {id(st) for st in stmts[start:] if id(st) not in looped}


class _OutsideObjects:
    """For ``SiteChecks.check_outside_writes``: the objects from outside a function (a global's, a
    closure's, an argument's) each name may be (a part of), and what a statement reads and writes
    of them."""

    def __init__(self, fdef: gast.FunctionDef, facts: FunctionFacts, act=None):
        self.facts = facts
        self.act = act                  # (the activity: what a call is, for the views it may return)
        self.params = set(facts.params) | set(facts.kwonly) | {n for n in (facts.vararg, facts.kwarg) if n}
        self.origin: Dict[str, str] = {}     # a name bound to (a part of) an outside object -> that object
        # of those, names bound once to a new container of an outside object's parts (list(ws), ws.copy(),
        # [a, b]): a write of an item of theirs (v[0] = ...) changes no outside object, one into an item does
        self.shallow: Set[str] = set()
        changed = True
        while changed:                  # names bound to (a part of) such an object
            changed = False
            for st in _in_order(fdef.body):
                pairs = [(st.targets[0], st.value)] if isinstance(st, gast.Assign) else \
                    [(st.target, st.iter)] if isinstance(st, gast.For) else []
                for target, value in pairs:
                    # (a, b = np.split(ws, 2); for i, q in enumerate(ws): each name may be a part)
                    names = [target] if isinstance(target, gast.Name) else \
                        [n for n in walk_nodes(target) if isinstance(n, gast.Name)] \
                        if isinstance(target, (gast.Tuple, gast.List)) else []
                    shared = None
                    for target in names:
                        if target.id in self.params or target.id in self.origin:
                            continue
                        if shared is None:
                            shared = sorted(self.shares(value))
                        if shared:
                            self.origin[target.id] = shared[0]
                            changed = True
                            if isinstance(st, gast.Assign) and target is st.targets[0] and \
                                    self._container_copy(value) and \
                                    facts.name_counts.get(target.id, (0, 0))[0] == 1:
                                self.shallow.add(target.id)

    def shares(self, value) -> Set[str]:
        """The outside objects the value of ``value`` may be (a part or a view of): a name bound to one,
        an item or attribute of one, and what a call given one may return unless it surely makes a new
        value (``np.asarray(ws)``, ``ws.ravel()``, ``d.get(k)``, ``ident(ws)``, ``list(ws)[0]``,
        ``np.split(ws, 2)``: views or parts of ws, which a write into changes ws)."""
        if value is None or isinstance(value, (gast.Constant, gast.BinOp, gast.UnaryOp, gast.Compare,
                                               gast.Lambda, gast.JoinedStr)):
            return set()
        if isinstance(value, gast.Name):
            r = self.outside(value.id)
            return {r} if r is not None and not self._code(value) else set()
        if isinstance(value, (gast.Subscript, gast.Attribute)):
            r = self.outside(root_name(value))
            if r is not None:
                return {r}
            while isinstance(value, (gast.Subscript, gast.Attribute)):
                value = value.value
            return self.shares(value) if isinstance(value, gast.Call) else set()
        if isinstance(value, gast.Call):
            if self._fresh(value) and not self._container_copy(value):
                return set()
            found: Set[str] = set()
            parts = [a.value if isinstance(a, gast.Starred) else a for a in value.args] + \
                [k.value for k in value.keywords]
            func = value.func
            if isinstance(func, gast.Attribute) and self._is_method(value):
                parts.append(func.value)
            for part in parts:
                found |= self.shares(part)
            return found
        found = set()          # containers, comprehensions, conditional values: any name they read
        for n in gast.walk(value):
            if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load) and self.outside(n.id) is not None:
                found.add(self.outside(n.id))
        return found

    def may_alias(self, written: str, read: str, st) -> bool:
        """Whether the outside object ``read`` (a name the code read) may be the object ``written``
        (which ``st`` writes into), hold it, or share its memory: two arguments may be one object, or an
        array and a dlarray of it (dlarray(BUF) keeps BUF's memory); a global object's attribute may be
        another global or an argument.  Not: a module, class or function, a number, string or None;
        for a write of an attribute (``obj.a = v``), an array."""
        if read == written:
            return True
        kind = self._kind_of(read)
        if kind == "code" or kind == "immutable":
            return False
        attribute_write = self._attribute_write(st, written)
        if attribute_write and kind == "array":
            return False
        return True

    def _attribute_write(self, st, written: str) -> bool:
        targets = st.targets if isinstance(st, gast.Assign) else [st.target] if isinstance(st, gast.AugAssign) else []
        return bool(targets) and all(isinstance(t, gast.Attribute) for t in targets
                                     if self.outside(root_name(t)) == written)

    def _kind_of(self, name: str) -> str:
        """"code", "immutable", "array" or "other" for an outside name's value (its kind, for an argument;
        its value, for a global)."""
        if name in self.params:
            kind = self.act.kinds.get(name) if self.act is not None else None
            if not isinstance(kind, tuple) or not kind:
                return "other"
            if kind[0] in ("dl", "nd"):
                return "array"
            if kind[0] == "num" or kind[0] == "const" and len(kind) == 2 and \
                    kind[1] in (bool, str, bytes, type(None), int, float, complex):
                return "immutable"
            if kind[0] == "const" and len(kind) == 2 and isinstance(kind[1], type) and \
                    issubclass(kind[1], (types.FunctionType, types.BuiltinFunctionType, type, types.ModuleType)):
                return "code"
            return "other"
        if self.act is None:
            return "other"
        try:
            value = self.act.resolver.resolve(gast.Name(id=name, ctx=gast.Load(), annotation=None,
                                                        type_comment=None))
        except Exception:
            return "other"
        if isinstance(value, (types.ModuleType, type, types.FunctionType, types.BuiltinFunctionType,
                              types.MethodType, np.ufunc)):
            return "code"
        if value is None or isinstance(value, (bool, int, float, complex, str, bytes, np.generic)):
            return "immutable"
        if isinstance(value, np.ndarray):
            return "array"
        return "other"

    def _container_copy(self, value) -> bool:
        """A new list, tuple, dict or set of the items given (a display, a comprehension, ``list(ws)``,
        ``sorted(ws)``, ``copy.copy(ws)``, ``ws.copy()``)."""
        if isinstance(value, (gast.List, gast.Tuple, gast.Dict, gast.Set, gast.ListComp, gast.DictComp,
                              gast.SetComp)):
            return True
        if not isinstance(value, gast.Call):
            return False
        func = value.func
        if isinstance(func, gast.Attribute) and func.attr == "copy" and not value.args and not value.keywords:
            return True                 # ws.copy(), copy.copy(ws)
        info = self._info(value)
        obj = getattr(info, "obj", None)
        return any(obj is b for b in (list, tuple, dict, set, frozenset, sorted)) or \
            (getattr(obj, "__name__", None) == "copy" and getattr(obj, "__module__", None) == "copy")

    def _code(self, name) -> bool:
        """A global name of a module, class or function (``np``, ``float``): no data to write into."""
        if self.act is None or name.id in self.params or name.id in self.origin:
            return False
        try:
            value = self.act.resolver.resolve(name)
        except Exception:
            return False
        return isinstance(value, (types.ModuleType, type, types.FunctionType, types.BuiltinFunctionType,
                                  np.ufunc))

    def _info(self, call):
        if self.act is None:
            return None
        try:
            return self.act.call_info(call)
        except Exception:
            return None

    def _is_method(self, call) -> bool:
        info = self._info(call)
        return info is None or info.kind == CallKind.METHOD

    def _fresh(self, call) -> bool:
        """A call surely returning a new value (or a number), whatever it is given."""
        info = self._info(call)
        if info is None:
            return False
        func = call.func
        name = func.attr if isinstance(func, gast.Attribute) else func.id if isinstance(func, gast.Name) else None
        keywords = {k.arg for k in call.keywords}
        if info.kind == CallKind.SITE:
            return True
        if "out" in keywords:
            return False
        if info.kind == CallKind.METHOD:
            return info.rule is not None and (name not in VIEW_METHODS or name == "flatten")
        if info.kind == CallKind.FUNCTION and isinstance(info.obj, types.FunctionType):
            return _returns_fresh(info.obj)      # a helper whose every return is a new value
        if info.kind in (CallKind.OP, CallKind.NONDIFF, CallKind.PLAIN) and info.obj is not None:
            obj = info.obj
            module = getattr(obj, "__module__", None) or ""
            if any(obj is b for b in _FRESH_BUILTINS):
                return True
            if isinstance(obj, np.ufunc) or module.split(".")[0] == "numpy" or module == "math":
                own = getattr(obj, "__name__", name)
                if own in VIEW_FUNCTIONS or name in VIEW_FUNCTIONS:
                    return False
                if own in ("array", "asarray", "copy") and "copy" in keywords:
                    return False
                return True
        return False

    def outside(self, name):
        """The outside object ``name`` is (a part of), or None."""
        if name is None:
            return None
        if name in self.origin:
            return self.origin[name]
        return name if name in self.params or name not in self.facts.stored else None

    def reads(self, node) -> Set[str]:
        return {self.outside(n.id) for n in gast.walk(node)
                if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load) and self.outside(n.id)}

    def writes(self, st) -> List[Tuple[str, bool]]:
        """The outside objects ``st`` writes into, each with whether the write reads it too."""
        out = []
        targets = st.targets if isinstance(st, gast.Assign) else \
            [st.target] if isinstance(st, gast.AugAssign) else []
        out += [(self.outside(root_name(t)), isinstance(st, gast.AugAssign)) for t in targets
                if isinstance(t, (gast.Subscript, gast.Attribute)) and
                not (isinstance(st, gast.Assign) and isinstance(t.value, gast.Name) and t.value.id in self.shallow)]
        # (v[0] += 1 of such a v runs the item's own += in place: a write into the outside object's part)
        value = getattr(st, "value", None)
        if isinstance(value, gast.Call):    # np.copyto(z, v), np.add.at(z, i, v), out=z
            f = value.func
            if isinstance(f, gast.Attribute) and (f.attr in WRITING_FUNCTIONS or f.attr == "at") and \
                    value.args:
                out.append((self.outside(root_name(value.args[0])), f.attr == "at"))
            out += [(self.outside(root_name(k.value)), False) for k in value.keywords if k.arg == "out"]
        return [(r, rmw) for r, rmw in out if r is not None]

    def value_reads(self, st) -> Set[str]:
        parts = [getattr(st, "value", None)] + ([st.test] if isinstance(st, (gast.If, gast.While)) else []) + \
            ([st.iter] if isinstance(st, gast.For) else [])
        found: Set[str] = set()
        for part in parts:
            if part is not None:
                found |= self.reads(part)
        return found
