"""The differentiation sites of a function (``dlgradient``, ``dljacobian``, ``dldivergence``).

Each site is found once, its options read and checked, and what each of its x selects resolved
into a tree of selections; the result is a frozen :class:`Site` that the sweeps only read.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import Enum
from typing import Any, Dict, List, Optional, Tuple

import gast
import numpy as np

from types import MappingProxyType

from .plans import CallKind, FunctionFacts
from .ir import loaded_names, walk_no_defs, walk_nodes, walk_nodes_list
from .copy_checks import CopyChecks
from .stored_items import StoredItems
from .plain_leaves import first_pass_constant


class SiteKind(str, Enum):
    """Which function a site calls (its value is the function's name)."""
    DLGRADIENT = "dlgradient"
    DLJACOBIAN = "dljacobian"
    DLDIVERGENCE = "dldivergence"
    DLLAPLACIAN = "dllaplacian"

    def __str__(self) -> str:
        return self.value

    __format__ = str.__format__


@dataclass(frozen=True)
class SiteOptions:
    """The options of a dlgradient call (literal True/False, read once)."""
    retain_data: bool = False
    enable_higher_derivatives: bool = True
    allow_complex: bool = True


OPTION_NAMES = {"RetainData": "retain_data", "EnableHigherDerivatives": "enable_higher_derivatives",
                "AllowComplex": "allow_complex"}


@dataclass(frozen=True)
class Selection:
    """What an x of a site selects (``SiteFinding.resolve_x``), as a tree: ``root`` (a name's
    current value: ``name``), ``item`` (``of[index]``), ``attr`` (``of.name``), ``list`` /
    ``tuple`` (of ``parts``), ``dict`` (``keys`` -> ``parts``), ``star`` (``*of``)."""
    kind: str
    name: Optional[str] = None
    of: Optional["Selection"] = None
    index: Any = None
    parts: Tuple["Selection", ...] = ()
    keys: Tuple[Any, ...] = ()


@dataclass(frozen=True)
class Site:
    """One differentiation site, as the sweeps read it."""
    stmt: gast.Assign
    frames: Tuple[Tuple[List, int, Any, int], ...]   # (block, index, parent compound, depth of block)
    y: str
    xs: Tuple[gast.AST, ...]
    options: SiteOptions
    line: int
    kind: SiteKind = SiteKind.DLGRADIENT
    dim: Any = None
    in_loop: bool = False
    sels: Optional[Tuple[Selection, ...]] = None     # what each x selects
    # (x0, p) for a root x0 bound once by ``x0 = p`` at the top of the function, p an argument not bound
    # before that line: x0's gradient is with respect to p's value at the call, p's adjoint at the sweep's end
    entry: Tuple[Tuple[str, str], ...] = ()


class CopyFollowing:
    """Following a site's x through the copies sct can prove hold its value (``x0 = x``,
    ``w = p["w"]``, ``t = (x, w); a = t[0]``, each bound once): ``SiteFinding.follow`` (it reads
    the finding's ``fdef``, ``facts``, ``act``, ``fail``, ``copies`` and ``site_line_defs``)."""

    def __init__(self, finding: "SiteFinding"):
        self.finding = finding
        self.fdef, self.facts, self.act, self.fail = finding.fdef, finding.facts, finding.act, finding.fail
        self._single_defs: Optional[Dict[str, Any]] = None
        self._in_loops: Optional[set] = None
        self._top_values: Optional[set] = None
        self._stores_fields = False
        self._own: Dict[str, int] = {}

    def single_defs(self) -> Dict[str, Any]:
        """The value of each name bound once in the function (a Python copy ``x0 = x``, an item
        ``w = p["w"]``, an attribute, a container ``p = {"x": x}``): dlgradient with respect to it
        is with respect to the value it names, reached through every name holding it (the adjoint
        of ``x0`` alone misses the uses of ``x``).  ``resolve_x`` follows one only into names
        bound once too, so each name in the chain holds the same value at the site."""
        if self._single_defs is None:
            counts = self.facts.name_counts
            defs: Dict[str, Any] = {}
            for n in self.finding.nodes():
                if isinstance(n, gast.Assign) and len(n.targets) == 1 and \
                        isinstance(n.targets[0], gast.Name) and counts.get(n.targets[0].id, (0, 0))[0] == 1 \
                        and isinstance(n.value, (gast.Name, gast.Subscript, gast.Attribute, gast.List,
                                                 gast.Tuple, gast.Dict)):
                    defs[n.targets[0].id] = n.value
            self._single_defs = defs
        return self._single_defs

    def origin_name(self, x: gast.Name, frames, line: int, stmt, what: str) -> gast.Name:
        """The x of a dljacobian / dldivergence / dllaplacian site that is a second name for
        another (``x0 = x``, each bound once) as that name: the derivative is with respect to
        the value, reached through both (was: through ``x0`` alone, zeros)."""
        line_defs = self.finding.site_line_defs(frames, line)
        seen = set()
        while x.id not in seen:
            seen.add(x.id)
            value = line_defs.get(x.id)
            if value is None:
                value = self.single_defs().get(x.id)
                if value is None or not self._follows(value):
                    self.check_copy_of_rebound(x.id, {}, stmt, what)
                    self.finding.copies.check_unfollowed_copy(x.id, stmt, what, frames)
                    break
            if not (isinstance(value, gast.Name) and self._once(x.id) and value.id in self.act.active):
                break
            x = gast.Name(id=value.id, ctx=gast.Load(), annotation=None, type_comment=None)
        return x

    def check_copy_of_rebound(self, root: str, defs: Dict[str, Any], stmt, what: str = "dlgradient") -> None:
        """Refuse x that holds (at the top level of the function) the value of a name assigned
        again elsewhere: its gradient is with respect to that value, reached also through the
        other name, whose later versions sct cannot tell apart here (was: the uses of x only,
        a zero where the value is used through the other name)."""
        value = self.single_defs().get(root)
        if value is None or root in defs or not any(value is getattr(st, "value", None)
                                                    for st in self.fdef.body):
            return
        if isinstance(value, (gast.Subscript, gast.Attribute)) and not (
                isinstance(value.value, gast.Name) and self._structure(value.value.id)):
            return                            # an array's item or attribute: a new value
        again = [n for n in loaded_names(value) if not self._once(n, True) and n in self.facts.stored]
        if again:
            self.fail(stmt, f"{what}: cannot differentiate with respect to {root!r}: it holds the value "
                      f"{again[0]!r} had on line {getattr(self.facts, 'defined_line', {}).get(root, '?')}, "
                      f"and {again[0]!r} is assigned again in {self.facts.fname}(); the gradient would "
                      f"miss what that value reaches through {again[0]!r}. Give the new values of "
                      f"{again[0]!r} another name", what)

    def _top_copy(self, root: str, defs: Dict[str, Any]):
        """(q, i) where ``root = q`` is statement i at the top of the function (run once), binding ``root``
        once, q a name of the function that may hold a traced value; None otherwise."""
        value = self.single_defs().get(root)
        if root in defs or not isinstance(value, gast.Name) or value.id not in self.act.active:
            return None
        for i, st in enumerate(self.fdef.body):
            if isinstance(st, gast.Assign) and st.value is value:
                return value.id, i
        return None

    def _binds(self, name: str, stmts) -> bool:
        return any(isinstance(n, gast.Name) and n.id == name and not isinstance(n.ctx, gast.Load)
                   for st in stmts for n in walk_nodes(st))

    def entry_param(self, root: str, defs: Dict[str, Any]) -> Optional[str]:
        """The argument p of ``root = p`` (``_top_copy``) where p is a dlarray argument that no statement
        before that one binds: ``root`` holds p's value at the call, so the gradient with respect to it
        is p's adjoint once the sweep has undone every statement (the uses through ``root`` and, before
        and after that line, through p, also through p's later values: ``x0 = x; for ...: x = x - 0.1 *
        g(x)``).  None otherwise (the copy is followed, or refused by ``check_copy_of_rebound``)."""
        found = self._top_copy(root, defs)
        if found is None or found[0] not in self.facts.params:
            return None
        param, i = found
        kind = self.act.kinds.get(param)
        if not (isinstance(kind, tuple) and kind and kind[0] == "dl") or self._binds(param, self.fdef.body[:i]):
            return None
        return param

    def final_source(self, root: str, defs: Dict[str, Any]) -> Optional[str]:
        """The name q of ``root = q`` (``_top_copy``) where no later statement binds q again (q bound
        before it, in a loop or a branch, is what the copy saw last): ``root`` holds q's value at the
        site, whose gradient is q's at the site (its adjoint where the sweep undoes q's last binding:
        the uses through ``root`` reach it through the copy).  None otherwise."""
        found = self._top_copy(root, defs)
        if found is None or self._binds(found[0], self.fdef.body[found[1] + 1:]):
            return None
        return found[0]

    def _once(self, name: str, top: bool = False) -> bool:
        """Bound once, and outside every loop (one value for the whole call) unless ``top``: read
        by a top-level statement, after the loop binding it has ended."""
        if self._in_loops is None:
            loops = [n for n in self.finding.nodes() if isinstance(n, (gast.For, gast.While))]
            parts = [p for n in loops for p in ([n.target] if isinstance(n, gast.For) else []) + n.body + n.orelse]
            self._in_loops = {n.id for p in parts for n in walk_nodes(p)
                              if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)}
        stores = self.facts.name_counts.get(name, (0, 0))[0]
        if stores > 1:                  # (a nested function's parameters of that name too: f's bound once?)
            stores = self._own.setdefault(name, _own_stores(self.fdef, name))
        return stores == 1 and (top or name not in self._in_loops)

    def _structure(self, name: str) -> bool:
        """Does ``name`` hold a list, tuple, dict or object (whose items are values of their own),
        not an array (whose item or attribute is a new value)?"""
        seen = set()
        while name not in seen:
            seen.add(name)
            kind = self.act.kinds.get(name)
            if isinstance(kind, tuple) and kind and kind[0] in ("obj", "seq", "map"):
                return True
            value = self.single_defs().get(name)
            if isinstance(value, (gast.List, gast.Tuple, gast.Dict)) or name in self.act.lists:
                return True
            # a second name of one (``u = t``; an inlined helper's ``r = out_t``): what it names
            if not (isinstance(value, gast.Name) and self._once(name, True)):
                return False
            name = value.id
        return False

    def _follows(self, value) -> bool:
        """Whether a name bound once to ``value`` (before the site's line) names the same value as
        ``value`` at the site: every name it reads is bound once (outside loops, unless the binding
        is a top-level statement), and an item or attribute is of a structure."""
        if self._top_values is None:    # (found once: this runs for every single binding)
            self._top_values = {id(v) for v in (getattr(st, "value", None) for st in self.fdef.body)
                                if v is not None}
            self._stores_fields = any(isinstance(n, gast.Attribute) and isinstance(n.ctx, gast.Store)
                                      for n in self.finding.nodes())
        top = id(value) in self._top_values
        if isinstance(value, gast.Name):
            return self._once(value.id, top)
        if isinstance(value, gast.Attribute) and self._stores_fields:
            return False      # fields that change are not followed (site_checks refuses them at a site)
        if isinstance(value, (gast.Subscript, gast.Attribute)):
            return isinstance(value.value, gast.Name) and self._once(value.value.id, top) and \
                self._structure(value.value.id) and \
                all(self._once(n, top) for n in loaded_names(value))
        if isinstance(value, (gast.List, gast.Tuple)):
            elts = value.elts
        elif isinstance(value, gast.Dict):
            if not all(isinstance(k, gast.Constant) for k in value.keys):
                return False
            elts = value.values
        else:
            return False
        return all(isinstance(e, gast.Name) and self._once(e.id, top) for e in elts)


class SiteFinding:
    """Finding the dlgradient / dljacobian / dldivergence sites of a function, reading their
    options and what each x selects: ``find_sites`` returns them, frozen."""

    def __init__(self, fdef: gast.FunctionDef, facts: FunctionFacts, act):
        self.fdef = fdef
        self.facts = facts
        self.act = act
        self.fail = facts.fail
        self.follow = CopyFollowing(self)
        self.copies = CopyChecks(self)
        self.stored = StoredItems(self, Selection)
        self._nodes: Optional[List] = None

    def release(self) -> None:
        """Once the sites are found: the finding's parts, which point back at it, let go (the
        cycle held the function's tree and its analysis until the cyclic collector ran)."""
        self.follow = self.copies = self.stored = self._nodes = None

    def nodes(self) -> List:
        """``walk_nodes(fdef)`` as a list, walked once: the checks of the sites read the function
        many times (each x, each name they follow), and finding the sites changes no node."""
        if self._nodes is None:
            self._nodes = walk_nodes_list(self.fdef)
        return self._nodes

    # --- sites ---------------------------------------------------------------------------------
    def find_sites(self) -> Tuple[Site, ...]:
        sites: List[Site] = []

        def walk(block, frames, depth, in_loop):
            for i, s in enumerate(block):
                if isinstance(s, gast.Assign) and isinstance(s.value, gast.Call) and \
                        self.act.call_info(s.value).kind == CallKind.SITE:
                    sites.append(self.make_site(s, frames + [(block, i, None, depth)], in_loop))
                elif isinstance(s, gast.Expr) and isinstance(s.value, gast.Call) and \
                        self.act.call_info(s.value).kind == CallKind.SITE:
                    self.fail(s, "the result of dlgradient is not used: assign it, "
                              "e.g. dydx = dlgradient(y, x)", "dlgradient")
                elif isinstance(s, gast.If):
                    walk(s.body, frames + [(block, i, s, depth)], depth + 1, in_loop)
                    walk(s.orelse, frames + [(block, i, s, depth)], depth + 1, in_loop)
                elif isinstance(s, gast.With):
                    walk(s.body, frames + [(block, i, s, depth)], depth + 1, in_loop)
                elif isinstance(s, (gast.For, gast.While)):
                    walk(s.body, frames + [(block, i, s, depth)], depth + 1, True)
        walk(self.fdef.body, [], 0, False)
        del walk        # (a recursive closure holding self: freed now, not by the cyclic collector)
        return tuple(sites)

    def make_site(self, stmt: gast.Assign, frames, in_loop: bool) -> Site:
        node = stmt.value
        line = getattr(stmt, "lineno", self.facts.line)
        kind = SiteKind(self.act.call_info(node).obj.__name__)
        options = self.site_options(stmt)
        if kind != SiteKind.DLGRADIENT:
            if len(node.args) != 3:
                self.fail(stmt, f"{kind} takes (u, x, dim): dim is the batch axis of u and x",
                          kind.value)
            u, x, dim = node.args
            if not isinstance(u, gast.Name) or u.id not in self.act.active:
                self.fail(stmt, f"{kind}: u does not depend on any traced input", kind.value)
            if not isinstance(x, gast.Name) or x.id not in self.act.active:
                self.fail(stmt, f"{kind}: x must be a traced dlarray (an argument of dlfeval or "
                          "computed from one)", kind.value)
            x = self.follow.origin_name(x, frames, line, stmt, kind.value)
            # an item of a tuple or list built here, or of a second name of one (``t = (a, 2 * a); h = t[0]``,
            # a helper's ``h, out = helper(x)`` read in place): the value is the item's, reached through
            # the item's own name too (was: through ``h`` alone, zeros), as dlgradient's x
            sel = self._origin_selection(x, frames, line, stmt)
            if sel is not None and sel.kind == "root" and sel.name != x.id and sel.name in self.act.active:
                x = self.follow.origin_name(gast.Name(id=sel.name, ctx=gast.Load(), annotation=None,
                                                      type_comment=None), frames, line, stmt, kind.value)
            # x's root as dlgradient's: a name bound in a loop or branch is read as at the site
            if sel is not None and sel.kind in ("item", "attr") and _roots([sel])[0] in self.facts.params:
                return Site(stmt, tuple(frames), u.id, (x,), options, line, kind, dim, in_loop, sels=(sel,))
            return Site(stmt, tuple(frames), u.id, (x,), options, line, kind, dim, in_loop,
                        sels=(Selection("root", x.id),))
        if len(node.args) < 2:
            self.fail(stmt, "dlgradient needs y and at least one x: dlgradient(y, x1, ..., xk)",
                      "dlgradient")
        y, xs = node.args[0], node.args[1:]
        if not isinstance(y, gast.Name) or y.id not in self.act.active:
            constant = self.constant_gradient_in(y)
            if constant is not None:
                self.fail(stmt, f"dlgradient: y depends on the traced inputs only through the gradient "
                          f"computed on line {constant} with EnableHigherDerivatives=False, which makes "
                          "that gradient a constant, so this derivative would be zero. Remove "
                          "EnableHigherDerivatives=False (the default, True, lets it be differentiated "
                          "again)", "dlgradient")
            # a bool or int dlarray x is not traced: y computed from it alone is not either (was: "y does
            # not depend on any traced input" for dlfeval(f, dlarray(mask)), red55h R1); say why
            for x in xs:
                if isinstance(x, gast.Name):
                    _refuse_numeric_dl(self, x.id, stmt)
            self.fail(stmt, "dlgradient: y does not depend on any traced input. y must be computed "
                      "from the dlarray arguments passed to dlfeval (plain arrays and numbers are "
                      "constants)", "dlgradient")
        defs = self._site_defs(frames, line)
        sels = [self.stored.expand(self.resolve_x(x, defs, stmt, top=True), lambda e: self.resolve_x(e, defs, stmt))
                for x in xs]
        entry = []
        for root in _roots(sels):
            self._check_first_pass(root, frames, stmt)
            param = self.follow.entry_param(root, defs)
            if param is not None:
                entry.append((root, param))
                continue
            source = self.follow.final_source(root, defs)
            if source is not None and source != root:
                sels = [_renamed_root(sel, root, source) for sel in sels]
                root = source
            self.follow.check_copy_of_rebound(root, defs, stmt)
            self.copies.check_unfollowed_copy(root, stmt, frames=frames)
        for sel in sels:
            self.copies.check_filled_structure(sel, stmt, False, line)
            self.stored.check(sel, stmt, frames)
            if root not in self.act.active:
                where = self.facts.defined_line.get(root)
                if self.created_by_dlarray(root):
                    self.fail(stmt, f"dlgradient: cannot differentiate with respect to {root!r}: it is a "
                              f"dlarray created inside {self.facts.fname}() (line {where}), and only the arguments "
                              "passed to dlfeval are traced (as in MATLAB). Create it outside and pass it "
                              f"to dlfeval as an argument: dlfeval({self.facts.fname}, ..., {root})", "dlgradient")
                _refuse_numeric_dl(self, root, stmt)
                origin = ("it is not a dlarray argument of dlfeval" if root in self.facts.params else
                          f"it is created on line {where} and does not depend on the inputs of dlfeval"
                          if where is not None else
                          f"it is a value from outside {self.facts.fname}() (a global or a closure's value), "
                          f"not an argument of dlfeval; pass it to dlfeval as an argument")
                self.fail(stmt, f"dlgradient: cannot differentiate with respect to {root!r}: {origin}; "
                          "only dlarrays passed to dlfeval, and values computed from them, are traced",
                          "dlgradient")
            if root in self.act.complex and not options.allow_complex:
                self.fail(stmt, f"dlgradient: {root!r} is complex but AllowComplex is False",
                          "dlgradient")
        return Site(stmt, tuple(frames), y.id, tuple(xs), options, line, in_loop=in_loop, sels=tuple(sels),
                    entry=tuple(entry))

    def _check_first_pass(self, root: str, frames, stmt) -> None:
        """Refuse a dlgradient in a loop with respect to a name the loop binds after the site, whose
        value on the loop's first pass is a constant (sct/plain_leaves.py ``first_pass_constant``:
        ``for _ in range(3): gW, gz = dlgradient(L(W, z), W, z); z = z - 0.2 * gz`` moved a plain
        ``z``, where the same dlgradient outside the loop is refused; MATLAB's trace refuses the
        first pass)."""
        what = first_pass_constant(root, frames, self.act, self.facts.params)
        if what is not None:
            self.fail(stmt, f"dlgradient: cannot differentiate with respect to {root!r} in this loop: on its first "
                      f"pass {root!r} is {what}, not traced; only later passes bind it to traced values. Make it "
                      f"a dlarray passed to dlfeval (or computed from one) before the loop", "dlgradient")

    def _site_defs(self, frames, line: int) -> Dict[str, Any]:
        """The bindings ``resolve_x`` follows at a site: the site line's own, and those bound once that
        name the same value at the site (``CopyFollowing._follows``)."""
        line_defs = self.site_line_defs(frames, line)
        defs = {k: v for k, v in self.follow.single_defs().items() if k not in line_defs and self.follow._follows(v)}
        defs.update(line_defs)
        return defs

    def _origin_selection(self, x: gast.Name, frames, line: int, stmt) -> Optional[Selection]:
        """What the x of a dljacobian / dldivergence / dllaplacian site selects, where a binding of it
        is an item of something (else None: the name itself)."""
        defs = self._site_defs(frames, line)
        if not isinstance(defs.get(x.id), (gast.Subscript, gast.Attribute)):
            return None
        return self.resolve_x(x, defs, stmt)

    def site_options(self, stmt: gast.Assign) -> SiteOptions:
        """The options of a site's call: literal True or False, by MATLAB's or Python's name."""
        options = {"RetainData": False, "EnableHigherDerivatives": True, "AllowComplex": True}
        aliases = {"retain_data": "RetainData", "enable_higher_derivatives": "EnableHigherDerivatives",
                   "allow_complex": "AllowComplex"}
        for k in stmt.value.keywords:
            key = aliases.get(k.arg, k.arg)
            if key not in options:
                self.fail(stmt, f"dlgradient has no option {k.arg!r}; the options are RetainData, "
                          "EnableHigherDerivatives and AllowComplex", "dlgradient")
            if not isinstance(k.value, gast.Constant):
                self.fail(stmt, f"the dlgradient option {k.arg} must be the literal True or False",
                          "dlgradient")
            options[key] = bool(k.value.value)
        return SiteOptions(**{OPTION_NAMES[k]: v for k, v in options.items()})

    def created_by_dlarray(self, name: str) -> bool:
        """Is ``name`` assigned ``dlarray(...)`` in this function (a constant inside dlfeval)?"""
        for n in self.nodes():
            if isinstance(n, gast.Assign) and any(isinstance(t, gast.Name) and t.id == name for t in n.targets):
                v = n.value
                if isinstance(v, gast.Call) and self.act.call_info(v).kind == CallKind.CREATE:
                    return True
        return False

    def constant_gradient_in(self, y) -> Optional[int]:
        """The line of a gradient taken with EnableHigherDerivatives=False that ``y`` is computed
        from (so y is a constant because of it), or None."""
        if not isinstance(y, gast.Name):
            return None
        defs: Dict[str, List] = {}
        for n in self.nodes():
            if isinstance(n, gast.Assign):
                for t in n.targets:
                    for m in walk_nodes(t):
                        if isinstance(m, gast.Name):
                            defs.setdefault(m.id, []).append(n)
        seen, todo = set(), [y.id]
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            seen.add(name)
            for st in defs.get(name, ()):
                v = st.value
                if isinstance(v, gast.Call) and self.act.call_info(v).kind == CallKind.SITE and any(
                        k.arg in ("EnableHigherDerivatives", "enable_higher_derivatives") and
                        isinstance(k.value, gast.Constant) and not k.value.value for k in v.keywords):
                    return getattr(st, "lineno", None)
                todo.extend(m.id for m in walk_nodes(v) if isinstance(m, gast.Name))
        return None

    # --- what x denotes at a site ----------------------------------------------------------
    def site_line_defs(self, frames, line: int) -> Dict[str, Any]:
        """The values of the names the normalizer made for the site's own line (``p["w"]``
        in ``dlgradient(y, p["w"])`` becomes a name assigned just before the site)."""
        block, index = frames[-1][0], frames[-1][1]
        defs: Dict[str, Any] = {}
        j = index - 1
        while j >= 0 and getattr(block[j], "lineno", None) == line:
            st = block[j]
            if isinstance(st, gast.Assign) and isinstance(st.targets[0], gast.Name):
                defs.setdefault(st.targets[0].id, st.value)
            j -= 1
        return defs

    def resolve_x(self, node, defs: Dict[str, Any], stmt, top: bool = False):
        """What the x of a site selects, as a ``Selection`` tree."""
        what = "dlgradient"
        if isinstance(node, gast.Starred) and top:
            return Selection("star", of=self.resolve_x(node.value, defs, stmt))
        if isinstance(node, gast.Name):
            value = defs.get(node.id)
            item = _items_value(self, value or self.follow.single_defs().get(node.id), defs, stmt) \
                if self.facts.name_counts.get(node.id, (0, 0))[0] == 1 else None   # (p of ``for k, p in P.items()``)
            if item is not None:
                return item
            if value is None or self.facts.name_counts.get(node.id, (0, 0))[0] != 1:
                return Selection("root", node.id)
            if isinstance(value, gast.Name):
                return self.resolve_x(value, defs, stmt)
            if isinstance(value, gast.Subscript) and isinstance(value.value, gast.Name):
                base = self.resolve_x(value.value, defs, stmt)
                if base.kind == "root" and not isinstance(value.slice, gast.Constant) and \
                        _walked_sequence(self, base.name):      # (x_1 = seq_as_sequence[k]: sct/sites.py _walked)
                    return Selection("root", node.id)
                if base.kind == "root":
                    item = self._held_item(base.name, value.slice, defs, stmt)
                    if item is None:        # (an item of a list or dict filled in place: sct/stored_items.py)
                        item = self.stored.item(base.name, value.slice, lambda e: self.resolve_x(e, defs, stmt))
                    if item is not None:
                        return item
                if base.kind in ("list", "tuple", "dict"):      # an item of a container built here
                    item = _literal_item(base, value.slice)
                    return item if item is not None else Selection("root", node.id)
                return Selection("item", of=base, index=value.slice)
            if isinstance(value, gast.Attribute) and isinstance(value.value, gast.Name):
                return Selection("attr", value.attr, of=self.resolve_x(value.value, defs, stmt))
            if isinstance(value, (gast.List, gast.Tuple)) and \
                    not any(isinstance(e, gast.Starred) for e in value.elts):
                return Selection("list" if isinstance(value, gast.List) else "tuple",
                                 parts=tuple(self.resolve_x(e, defs, stmt) for e in value.elts))
            if isinstance(value, gast.Dict) and all(k is not None for k in value.keys):
                return Selection("dict", keys=tuple(value.keys),
                                 parts=tuple(self.resolve_x(v, defs, stmt) for v in value.values))
            values = _argument_values(self, value, defs)
            if values is not None:
                return values
            return Selection("root", node.id)   # a value: check_roots_reached refuses one made here
        if isinstance(node, gast.Constant):
            self.fail(stmt, f"dlgradient: cannot differentiate with respect to the constant "
                      f"{node.value!r}: x must be a traced value", what)
        if isinstance(node, gast.Starred):
            self.fail(stmt, "dlgradient: a starred x is only allowed as an argument of dlgradient itself "
                      "(dlgradient(y, *xs))", what)
        self.fail(stmt, "dlgradient: x must be a name, an element or attribute of one, or a list, "
                  "tuple or dict of them", what)

    def _held_item(self, name: str, index, defs: Dict[str, Any], stmt) -> Optional[Selection]:
        """Item ``index`` (a constant) of the tuple display ``name`` is bound to, once and outside loops,
        where that item is a name bound so too (it holds the same value at the site), though another
        item is bound more than once (``out_t = (h, out)`` of an inlined helper whose ``out`` a loop
        rebinds: ``follow._follows`` takes the tuple whole); else None."""
        t = self.follow.single_defs().get(name)
        if not (isinstance(t, gast.Tuple) and self.follow._once(name) and isinstance(index, gast.Constant) and
                type(index.value) is int and -len(t.elts) <= index.value < len(t.elts) and
                not any(isinstance(e, gast.Starred) for e in t.elts)):
            return None
        e = t.elts[index.value]
        if isinstance(e, gast.Name) and self.follow._once(e.id):
            return self.resolve_x(e, defs, stmt)
        return None


def _refuse_numeric_dl(finding, root: str, stmt) -> None:
    """Refuse differentiating with respect to ``root``, an argument that is a dlarray of bool or int
    data (not traced: it has no derivative)."""
    kind = finding.act.kinds.get(root)
    dtype = kind[1] if isinstance(kind, tuple) and len(kind) > 1 and kind[0] == "dl" else None
    if root in finding.facts.params and dtype is not None and np.dtype(dtype).kind not in "fc":
        finding.fail(stmt, f"dlgradient: cannot differentiate with respect to {root!r}: it is a dlarray "
                     f"of {np.dtype(dtype).name} data, which has no derivative; make it a float dlarray "
                     f"(dlarray(x.astype(float))) before dlfeval", "dlgradient")


def _items_value(finding, value, defs: Dict[str, Any], stmt) -> Optional[Selection]:
    """``P[k]`` for the value ``p`` of ``for k, p in P.items()`` (normalized: ``seq_items = P.items();
    seq_as_sequence = rt.as_sequence(seq_items); t = seq_as_sequence[i]; k = t[0]; p = t[1]``), where
    P is a name bound once that the function reads only by its items and keys (nothing can change
    P[k] after the walk took p): dlgradient(L, p) is with respect to that item, whose uses through
    ``P["a"]`` count (was: refused as a value P holds too, red team 53h FR4); else None."""
    counts = finding.facts.name_counts
    if not (isinstance(value, gast.Subscript) and isinstance(value.value, gast.Name) and
            isinstance(value.slice, gast.Constant) and value.slice.value == 1 and
            counts.get(value.value.id, (0, 0))[0] == 1):
        return None
    pair = value.value.id
    binds = {n.targets[0].id: n.value for n in finding.nodes() if isinstance(n, gast.Assign) and
             len(n.targets) == 1 and isinstance(n.targets[0], gast.Name)}
    walk = binds.get(pair)
    if not (isinstance(walk, gast.Subscript) and isinstance(walk.value, gast.Name) and
            _walked_sequence(finding, walk.value.id)):
        return None
    seq = binds.get(walk.value.id)
    source = seq.args[0] if len(seq.args) == 1 and isinstance(seq.args[0], gast.Name) else None
    items = binds.get(source.id) if source is not None and counts.get(source.id, (0, 0))[0] == 1 else None
    if not (isinstance(items, gast.Call) and isinstance(items.func, gast.Attribute) and
            items.func.attr == "items" and not items.args and not items.keywords and
            isinstance(items.func.value, gast.Name)):
        return None
    P = items.func.value.id
    keys = [n.targets[0].id for n in finding.nodes() if isinstance(n, gast.Assign) and len(n.targets) == 1 and
            isinstance(n.targets[0], gast.Name) and isinstance(n.value, gast.Subscript) and
            isinstance(n.value.value, gast.Name) and n.value.value.id == pair and
            isinstance(n.value.slice, gast.Constant) and n.value.slice.value == 0]
    if len(keys) != 1 or counts.get(keys[0], (0, 0))[0] != 1 or counts.get(P, (0, 0))[0] > 1 or \
            finding.act.kinds.get(P, (None,))[:1] != ("map",):
        return None
    # P read only as ``P[key]`` or by ``P.items()`` / ``.keys()`` / ``.values()`` (no call given P, no write)
    reads = [n for n in finding.nodes() if isinstance(n, gast.Name) and n.id == P and not isinstance(n.ctx, gast.Param)]
    allowed = {id(n.value) for n in finding.nodes() if isinstance(n, gast.Subscript) and isinstance(n.ctx, gast.Load)}
    allowed |= {id(n.func.value) for n in finding.nodes() if isinstance(n, gast.Call) and
                isinstance(n.func, gast.Attribute) and n.func.attr in ("items", "keys", "values") and not n.args}
    if any(not isinstance(n.ctx, gast.Load) or id(n) not in allowed for n in reads if n.id == P):
        return None
    base = finding.resolve_x(gast.Name(id=P, ctx=gast.Load(), annotation=None, type_comment=None), defs, stmt)
    if base.kind != "root":
        return None
    return Selection("item", of=base, index=gast.Name(id=keys[0], ctx=gast.Load(), annotation=None,
                                                      type_comment=None))


def _walked_sequence(finding, name: str) -> bool:
    """Is ``name`` bound once, to the normalizer's ``rt.as_sequence(xs)`` (what a loop walks)?"""
    if finding.facts.name_counts.get(name, (0, 0))[0] != 1:
        return False
    return any(isinstance(n, gast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], gast.Name) and
               n.targets[0].id == name and _walked(n.value) for n in finding.nodes())


def _walked(value) -> bool:
    """Is ``value`` the normalizer's ``rt.as_sequence(xs)``: what a for loop or comprehension walks?  Its
    item, ``x_1 = seq_as_sequence[k]``, is x itself to ``resolve_x``, whose binding the copy checks read as
    ``for x in xs``'s (was: an item of the normalizer's sequence, refused as a list filled from xs, red
    team 53h FR4)."""
    return isinstance(value, gast.Call) and isinstance(value.func, gast.Attribute) and \
        value.func.attr == "as_sequence" and isinstance(value.func.value, gast.Name) and \
        value.func.value.id.startswith("rt")


def _argument_values(self, value, defs: Dict[str, Any]) -> Optional[Selection]:
    """``p.values()`` (or ``list(p.values())``, on the site's line) of a dict parameter ``p`` whose kind
    tells its keys, which the function only reads (``p[k]``, ``p.values()``, ``p.items()``, ``p.keys()``;
    no nested def reads it), so that its values at the site are its items by those keys, in order:
    ``dlgradient(y, *p.values())`` is ``dlgradient(y, p["W"], p["b"])`` (was: refused, naming the
    normalizer's ``out_list``, fuzz53 R3).  ``self``: the SiteFinding."""
    if isinstance(value, gast.Call) and isinstance(value.func, gast.Name) and value.func.id == "list" and \
            "list" not in self.facts.params and self.facts.name_counts.get("list", (0, 0))[0] == 0 and \
            len(value.args) == 1 and not value.keywords and isinstance(value.args[0], gast.Name):
        value = defs.get(value.args[0].id)
    if not (isinstance(value, gast.Call) and isinstance(value.func, gast.Attribute) and
            value.func.attr == "values" and not value.args and not value.keywords and
            isinstance(value.func.value, gast.Name)):
        return None
    p = value.func.value.id
    kind = self.act.kinds.get(p)
    if p not in self.facts.params or \
            not (isinstance(kind, tuple) and len(kind) == 3 and kind[:2] == ("map", dict)):
        return None
    parents = {}
    for n in gast.walk(self.fdef):
        for c in gast.iter_child_nodes(n):
            parents[id(c)] = n
        if isinstance(n, (gast.FunctionDef, gast.Lambda)) and n is not self.fdef and \
                any(isinstance(m, gast.Name) and m.id == p for m in gast.walk(n)):
            return None
    for n in gast.walk(self.fdef):
        if not (isinstance(n, gast.Name) and n.id == p):
            continue
        up = parents.get(id(n))
        if isinstance(up, gast.arguments):
            continue
        read = isinstance(up, gast.Subscript) and up.value is n and isinstance(up.ctx, gast.Load) and \
            isinstance(up.slice, gast.Constant)
        method = isinstance(up, gast.Attribute) and up.attr in ("values", "items", "keys") and \
            isinstance(parents.get(id(up)), gast.Call) and parents[id(up)].func is up and not parents[id(up)].args
        if not (read or method):
            return None
    root = Selection("root", p)
    return Selection("list", parts=tuple(Selection("item", of=root, index=gast.Constant(value=k, kind=None))
                                         for k, _ in kind[2]))


def _literal_item(sel: Selection, index) -> Optional[Selection]:
    """The selection of item ``index`` (a constant) of a list, tuple or dict built in the
    function, or None."""
    if not isinstance(index, gast.Constant):
        return None
    if sel.kind == "dict":
        found = None                   # the last of repeated keys, as Python's dict display
        for key, item in zip(sel.keys, sel.parts):
            if isinstance(key, gast.Constant) and type(key.value) is type(index.value) and \
                    key.value == index.value:
                found = item
        return found
    if type(index.value) is int and -len(sel.parts) <= index.value < len(sel.parts):
        return sel.parts[index.value]
    return None


def _renamed_root(sel: Selection, old: str, new: str) -> Selection:
    """``sel`` with its root ``old`` read as ``new`` (a copy's source: ``SiteFinding.make_site``)."""
    if sel.kind == "root":
        return Selection("root", new) if sel.name == old else sel
    return dataclasses.replace(sel, of=_renamed_root(sel.of, old, new) if sel.of is not None else None,
                               parts=tuple(_renamed_root(p, old, new) for p in sel.parts))


def _roots(sels) -> List[str]:
    """The root names a site's selections read, in order."""
    out: List[str] = []

    def walk(sel: Selection):
        if sel.kind == "root":
            if sel.name not in out:
                out.append(sel.name)
        elif sel.of is not None:
            walk(sel.of)
        for e in sel.parts:
            walk(e)
    for sel in sels:
        walk(sel)
    return out




def _in_order(block: List):
    """Statements of a body in source order, entering compound statements."""
    for s in block:
        yield s
        for field_name in ("body", "orelse"):
            yield from _in_order(getattr(s, field_name, []) or [])


def function_facts(fdef: gast.FunctionDef, filename: str) -> FunctionFacts:
    """What the passes read of the function itself (see ``plans.FunctionFacts``)."""
    params = tuple(a.id for a in fdef.args.args)
    kwonly = tuple(a.id for a in fdef.args.kwonlyargs)
    vararg = fdef.args.vararg.id if fdef.args.vararg is not None else None
    kwarg = fdef.args.kwarg.id if fdef.args.kwarg is not None else None
    stored = set(params) | set(kwonly) | {n for n in (vararg, kwarg) if n}
    counts: Dict[str, List[int]] = {}
    for n in walk_nodes(fdef):
        if isinstance(n, gast.Name):
            if isinstance(n.ctx, gast.Store):
                stored.add(n.id)
            c = counts.setdefault(n.id, [0, 0])
            c[0 if isinstance(n.ctx, (gast.Store, gast.Param)) else 1] += 1
        elif isinstance(n, gast.FunctionDef) and n is not fdef:
            stored.add(n.name)      # a nested def (a lambda) binds its name: a sweep may read it
    defined_line: Dict[str, int] = {}
    def_order: Dict[str, int] = {p: i for i, p in enumerate(params)}
    for n in _in_order(fdef.body):
        if isinstance(n, gast.Assign) and isinstance(n.targets[0], gast.Name):
            defined_line.setdefault(n.targets[0].id, getattr(n, "lineno", fdef.lineno))
        for m in walk_nodes(n) if isinstance(n, gast.Assign) else ():
            if isinstance(m, gast.Name) and isinstance(m.ctx, gast.Store):
                def_order.setdefault(m.id, len(def_order))
    bound: set = set()              # assigned at the top level before any compound assigns it
    seen_in_compound: set = set()   # every name a top-level compound assigns
    defs_in_compound: set = set()   # every nested def (a lambda) a top-level compound makes
    for s in fdef.body:
        if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name):
            if s.targets[0].id not in seen_in_compound:
                bound.add(s.targets[0].id)
        elif isinstance(s, (gast.If, gast.For, gast.While, gast.With)):
            for n in walk_nodes(s):
                if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store):
                    seen_in_compound.add(n.id)
                elif isinstance(n, gast.FunctionDef):
                    defs_in_compound.add(n.name)
    return FunctionFacts(fdef.name, filename, fdef.lineno, params, kwonly, vararg, kwarg, frozenset(stored),
                         MappingProxyType(defined_line), MappingProxyType(def_order),
                         MappingProxyType({k: (v[0], v[1]) for k, v in counts.items()}),
                         frozenset(seen_in_compound), frozenset(bound), frozenset(defs_in_compound - bound))



def _own_stores(fdef, name: str) -> int:
    """How many times ``fdef`` itself binds ``name`` (its parameter, its assignments and loops; a nested function's
    ``nonlocal`` of it counts as many), not counting a nested function's own parameters and locals: the
    normalizer's ``def g(P, i, z)`` of a def in a loop reading P does not bind f's P (was: "'P' is assigned
    again", red56d F3)."""
    if any(isinstance(n, gast.Nonlocal) and name in n.names for n in walk_nodes(fdef)):
        return 2
    return sum(1 for n in walk_no_defs(fdef) if isinstance(n, gast.Name) and n.id == name and
               isinstance(n.ctx, (gast.Store, gast.Param, gast.Del)))
