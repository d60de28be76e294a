"""Where the self-contained sweep of a site differentiated again starts recomputing
(``recompute_start``, read by sct/sweeps.py): after the last statement of the body that binds its
roots, where the code between is plain assignments, so that each written-out step of nested
gradients (MAML) is a function of its own step's values.  ``self``: the Sweeps pass (its ``gen``,
``act`` and ``summary``)."""
from __future__ import annotations

import builtins
import dataclasses
import inspect
import itertools
from typing import List, Set, Tuple

import gast

from .ir import root_name, walk_nodes
from .plans import CallKind
from .sites import Site

# the runtime's checks a recomputed part may hold as statements: they read values, bind and change nothing
_PURE_CHECKS = frozenset(("unformatted_outside",))


def recomputed_part(self, site: Site, roots: List[str]) -> Tuple[Site, str]:
    """The site as its self-contained sweep reads it (its frame cut to the part recomputed) and the
    name it replays effects from: the mark the forward binds where that part starts, or the
    function's start (``effects_start``) where it recomputes from the arguments."""
    start = recompute_start(self, site, roots)
    if not start:
        return site, self.gen.effects_start
    block, index, parent, depth = site.frames[0]
    replay = self.gen.effect_marks.get(id(block[start]))
    if replay is None:
        replay = self.gen.effect_marks[id(block[start])] = self.namer.fresh("effects_region")
        self.gen.forward_names.add(replay)
    self.regions[id(site.stmt)] = replay
    return dataclasses.replace(site, frames=((block[start:], index - start, parent, depth),)), replay


def part_parameters(self, site: Site, body: List, read: Set[str]) -> List[str]:
    """The parameters of the sweep function of a site whose part ``recomputed_part`` cut: the names
    the sweep ``body`` reads and does not bind (the values at the part's start), and the mark."""
    replay = self.regions[id(site.stmt)]
    bound = set().union(set(), *(self.summary(st)[2] for st in body))
    forward = self.gen.forward_names
    return sorted((n for n in read - bound if n != replay and n != self.gen.tape and
                   (n in self.gen.params or n in forward)), key=self.gen.order_key) + [replay]


def recompute_start(self, site: Site, roots: List[str]) -> int:
    """Where a self-contained sweep of ``site`` may start recomputing: after the last statement
    of the function's body that binds one of its roots (``p = p - lr * g`` written out, MAML's
    steps), its function then taking the values that part reads (``p`` itself) instead of the
    function's arguments, so that a later site differentiates only that part again (was: every
    step's gradient recomputed, and was differentiated again through, every step before it: about
    3x the code per step).  0 (from the arguments) unless the site is in the body itself and each
    statement of that part is an assignment to names, none of which it read before, of a value
    made by arithmetic, an op, a function of the user's differentiated through or a copy of no
    derivative: nothing it could change in place of what it reads, and no site."""
    if len(site.frames) != 1 or site.entry:
        return 0
    if not self.gen.primal_calls:
        # the entry's code is differentiated again (sct.jvp / sct.hvp of a function with a site,
        # forward over reverse): the adjoint a step's sweep returns reads the values it took (``p``)
        # from its closure, whose tangent forward mode does not follow (a zero tangent): the
        # product missed what goes through them (was: jvp of written-out MAML over a dict wrong)
        return 0
    block, index, _, depth = site.frames[0]
    if depth != 0 or block is not self.gen.fdef.body:
        return 0
    wanted = set(roots)
    start = 0
    for i in range(index):      # bound, or written into (``p_new[k] = ...`` of a dict comprehension)
        if self.summary(block[i])[2] & wanted or any(
                isinstance(n, (gast.Subscript, gast.Attribute)) and not isinstance(n.ctx, gast.Load) and
                root_name(n) in wanted for n in walk_nodes(block[i])):
            start = i + 1
    if start == 0:
        return 0
    read: Set[str] = set()
    outside: Set[str] = set()       # the names the part reads that it did not bind itself
    for st in block[start:index + 1]:
        loads, stores = self.summary(st)[1], self.summary(st)[2]
        outside |= set(loads) - read
        read |= stores
    if outside & _iterators(self, block[:start]):
        return 0                # a one-shot iterator made before: the part's own run used it up
    if (outside - wanted) & _holders(self, block[:start], wanted):
        # the part reads a value made from a root before it starts (``q1 = {"b": b}`` with the root
        # ``b`` that ``q["b"]`` resolved to, read as ``q1["b"]`` in the part): its sweep took that
        # value as a constant, missing what reaches y through it (was: the gradient of that path 0)
        return 0
    read, bound = set(), set()      # read before the part binds them; bound by the part
    for st in block[start:index]:
        if isinstance(st, gast.Expr) and isinstance(st.value, gast.Call) and \
                isinstance(st.value.func, gast.Attribute) and st.value.func.attr in _PURE_CHECKS and \
                isinstance(st.value.func.value, gast.Name) and st.value.func.value.id == self.gen.rt_name:
            continue            # sct's own check of a value (no effect, nothing bound)
        if not (isinstance(st, gast.Assign) and
                all(isinstance(t, gast.Name) or isinstance(t, gast.Tuple) and
                    all(isinstance(e, gast.Name) for e in t.elts) for t in st.targets)):
            return 0
        for n in walk_nodes(st.value):
            if isinstance(n, (gast.NamedExpr, gast.Lambda, gast.Yield, gast.YieldFrom, gast.Await,
                              gast.ListComp, gast.SetComp, gast.DictComp, gast.GeneratorExp)):
                return 0
            if isinstance(n, gast.Call):
                if any(k.arg in (None, "out") for k in n.keywords):
                    return 0
                info = self.act.call_info(n)
                if not (info.kind in (CallKind.OP, CallKind.FUNCTION, CallKind.STOP, CallKind.CREATE) or
                        info.kind == CallKind.METHOD and info.rule is not None):
                    return 0
        loads, stores = self.summary(st)[1], self.summary(st)[2]
        read |= set(loads) - bound
        if stores & read:
            return 0            # a name it read rebound (``c = c + 1``): the site would pass the new one
        bound |= stores
    return start


def _holders(self, stmts, roots: Set[str]) -> Set[str]:
    """The names these statements bind (or may change in place) from a root's value once the root
    is bound: a container holding it, a value computed from it, an alias of it."""
    dep: Set[str] = set()
    for st in stmts:
        loads, stores = self.summary(st)[1], self.summary(st)[2]
        if set(loads) & dep:
            dep |= set(stores)
            if not isinstance(st, gast.Assign):
                dep |= set(loads)   # (a call of a method may store the value into what it reads)
        if stores & roots:
            dep |= set(stores) & roots
            if isinstance(st, gast.Assign) and isinstance(st.value, gast.Name):
                dep.add(st.value.id)    # (``b = a``: the root is ``a``'s value too)
    return dep


def _iterators(self, stmts) -> Set[str]:
    """The names these statements bind that may hold a one-shot iterator (``it = iter(xs)``,
    ``zip``, ``map``, a generator, or a value built from one of those names): a self-contained
    sweep that took such a name as a parameter would walk what the first run left (nothing:
    refused when it runs), where recomputing from the arguments makes the iterator again."""
    makers = {builtins.iter, builtins.map, builtins.zip, builtins.filter, builtins.reversed,
              builtins.enumerate}
    tainted: Set[str] = set()
    for st in stmts:
        hit = False
        for n in walk_nodes(st):
            if isinstance(n, gast.GeneratorExp) or \
                    isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load) and n.id in tainted:
                hit = True
                break
            if isinstance(n, gast.Call):
                obj = self.act.call_info(n).obj
                try:
                    if obj in makers or getattr(obj, "__module__", None) == "itertools" or \
                            isinstance(obj, type) and issubclass(obj, itertools.chain) or \
                            inspect.isgeneratorfunction(obj):
                        hit = True
                        break
                except TypeError:           # (an unhashable callable)
                    continue
        if hit:
            tainted |= set(self.summary(st)[2])
    return tainted
