"""Checks of a site against the code around it, refused with the user's line where the
gradient would not be the exact derivative.
"""
from __future__ import annotations

from typing import List, Set

import gast

from .ir import walk_nodes
from .liveness import Liveness
from .plans import FunctionFacts
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
                self.fail(site.stmt, "dlgradient: this x is a new value made in the call itself "
                          "(an operation such as 2 * a, or a comprehension), which y, computed "
                          "before, cannot depend on. Pass a name, an element or attribute "
                          "(p[\"w\"], net.W) or a list, tuple or dict of them; for a computed value, "
                          "assign it to a name before computing y; for items chosen in a loop, "
                          "differentiate with respect to the whole structure and select from the "
                          "gradient, e.g. g = dlgradient(y, a); [g[i] for i in idx]", "dlgradient")

    def check_attribute_stores(self, site: Site):
        """``dlgradient(y, m.W)`` after ``m.W = ...``: the adjoint of m is that of the object
        passed in, not of its changed field; refuse rather than answer for the old field."""
        def has_attr(sel) -> bool:
            kind = sel[0]
            if kind == "attr":
                return True
            if kind in ("item", "star"):
                return has_attr(sel[1])
            if kind in ("list", "tuple"):
                return any(has_attr(e) for e in sel[1])
            if kind == "dict":
                return any(has_attr(e) for _, e in sel[1])
            return False
        roots = set(_roots(site.sels))
        through_attribute = any(has_attr(sel) for sel in site.sels)
        for st in _in_order(self.fdef.body):
            if isinstance(st, gast.Assign) and isinstance(st.targets[0], gast.Attribute) and \
                    (through_attribute or (isinstance(st.targets[0].value, gast.Name) and
                                           st.targets[0].value.id in roots)):
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
