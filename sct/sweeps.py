"""The sweeps: the adjoint code of each site (from ``d_y = rt.seed(y)`` back to the arguments),
the adjoint of a function differentiated from its caller, and the functions that hold them.
"""
from __future__ import annotations

import copy
import threading
from types import MappingProxyType
from typing import Dict, List, Set, Tuple

import gast

from .adjoints import StatementAdjoints
from .analysis import index_value
from .forward_code import ForwardCode
from .generation import EmitPass, Generation
from .ir import assign, attr, call, const, load, loaded_names, name_summary, store, substitute, expr_stmt, walk_nodes, walk_nodes_list
from .sites import Selection, Site, SiteKind, _roots
from .plans import SweepPlan, SweepScope
from .regions import part_parameters, recomputed_part
from .templates import ZERO, _function
from .kinds import has_own_methods as _has_own_methods, kind_traced, object_array_field


class Sweeps(EmitPass):
    """Each site's sweep (and a differentiated helper's adjoint), assembled into functions:
    the statements' adjoints are ``adjoints``', a self-contained sweep's recomputation
    ``forward``'s."""

    def __init__(self, gen: Generation, adjoints: StatementAdjoints, forward: ForwardCode):
        super().__init__(gen)
        self.adjoints = adjoints
        self.forward = forward
        self.last_prefix: List = []             # a self-contained sweep's recomputation
        self.snapshotted: Set[str] = set()      # names a site's results read as at the site
        # id(statement or expression) -> (it, name_summary(it)): a sweep's statements are read for
        # their loads, stores and names by site_results, note_reads, sweep_function and
        # residual_names, one walk each; made anew for each sweep (nothing changes them between)
        self.summaries: Dict[int, tuple] = {}
        self.regions: Dict[int, str] = {}       # id(site statement) -> its effect mark (sct/regions.py)

    def summary(self, node) -> tuple:
        """``name_summary(node)``, from one walk per sweep."""
        entry = self.summaries.get(id(node))
        if entry is None or entry[0] is not node:       # (the node is kept: its id is not reused)
            entry = self.summaries[id(node)] = (node,) + name_summary(node)
        return entry

    def note_reads(self, nodes: List) -> None:
        """``self.adjoints.note_reads`` of ``nodes`` (statements or expressions), from ``summary``."""
        needed, forward = self.adjoints.needed, self.gen.forward_names
        for node in nodes:
            for n in self.summary(node)[1]:
                if n in forward:
                    needed.add(n)

    def site_sweep(self, site: Site, self_contained: bool, seed: str, inner: List[Site]):
        """The sweep of a site.  ``self_contained``: it recomputes the statements before
        the site from the function's arguments (so a later sweep can differentiate it
        as ordinary code) instead of receiving their values.  ``seed``: the seed parameter
        of a batched sweep (dljacobian...); ``inner``: the earlier sites differentiated again."""
        roots = _roots(site.sels) if site.sels is not None else \
            [x.id for x in site.xs if isinstance(x, gast.Name)]
        entry = dict(site.entry)            # (x0 = p: the gradient of x0 is p's, so p is the root read)
        direct = [r for r in roots if r not in entry]
        roots = list(dict.fromkeys(entry.get(r, r) for r in roots))
        captures: Dict[str, Tuple[str, str]] = {}
        self.summaries = {}
        if site.sels is not None:
            self.gen.checks.check_roots_reached(site, roots)
            self.gen.checks.check_sibling_results(site, roots)
            self.gen.checks.check_through_gradients(site, roots, inner)
            self.gen.checks.check_attribute_stores(site)
            captures = self.site_captures(direct)
        relevant = frozenset(self.live.depends_on(set(roots)))
        self.gen.scope = SweepScope(relevant, MappingProxyType(captures), frozenset(roots))
        state = {"initialized": {site.y}}
        body: List = []
        self.last_prefix = []
        site, replay = recomputed_part(self, site, roots) if self_contained and site.kind == SiteKind.DLGRADIENT \
            else (site, self.gen.effects_start)
        if self_contained:
            # what precedes the site runs again: its effects (draws, prints) are replayed
            self.last_prefix.append(expr_stmt(call(self.rt("replay_from"), [load(replay)])))
            self.last_prefix.extend(self.forward.recompute_guard(
                [st for block, index, _, _ in site.frames for st in block[:index]]))
            own = site.frames[0][0][0] if replay != self.gen.effects_start else None
            mark = self.gen.effect_marks.pop(id(own), None)     # (its own: a parameter here)
            for block, index, _, depth in site.frames:
                self.last_prefix.extend(self.forward.forward_block(block[:index], depth))
            if mark is not None:
                self.gen.effect_marks[id(own)] = mark
            self.last_prefix.append(expr_stmt(call(self.rt("replay_end"))))
            body.extend(self.last_prefix)
        head_at = len(body)
        if site.kind == SiteKind.DLGRADIENT:
            body.append(assign(self.gen.d(site.y), call(self.rt("seed"), [load(site.y)])))
        else:                       # one cotangent of u per call, chosen by rt.batch_jacobian
            body.append(assign(self.gen.d(site.y), load(seed)))
        rev = self.reverse_before_site(site, state, self_contained)
        body.extend(rev)
        if site.sels is not None:
            results = self.site_results(site, body, head_at, rev, state)
            self.gen.scope = SweepScope(self.gen.scope.relevant)
            self.note_reads(body)
            self.note_reads(results)
            return body, results
        results = []
        for x in site.xs:
            if isinstance(x, gast.Name):
                dx = load(self.gen.d(x.id)) if x.id in state["initialized"] else ZERO
                results.append(_SiteResults(self, [], set(), state["initialized"]).projected(
                    Selection("root", name=x.id), dx, load(x.id)))
            else:
                results.append(call(self.rt("project"), [ZERO, x]))
        self.note_reads(body)
        for x in site.xs:
            for n in loaded_names(x):
                if n in self.gen.forward_names:
                    self.adjoints.needed.add(n)
        return body, results

    def site_captures(self, roots: List[str]) -> Dict[str, Tuple[str, str]]:
        """A name assigned in a loop or branch, or more than once: its gradient is the adjoint
        of the version the site sees (the first definition the sweep undoes), kept in a flag
        and a variable of its own."""
        captures: Dict[str, Tuple[str, str]] = {}
        counts = self.facts.name_counts
        for r in roots:
            if r in self.facts.assigned_in_compounds or counts.get(r, (0, 0))[0] > 1:
                captures[r] = (self.namer.fresh(f"found_{r}"), self.namer.fresh(f"grad_{r}"))
        return captures

    def reverse_before_site(self, site: Site, state, self_contained: bool = False) -> List:
        """The adjoint of everything the site's y was computed by, innermost block first."""
        R = {site.y}
        rev: List = []
        block, index, _, depth = site.frames[-1]
        if not self_contained and depth > 0 and index < len(block) and isinstance(block[index], gast.Assign) and \
                isinstance(block[index].targets[0], gast.Name) and \
                self.adjoints.restores(block[index].targets[0].id, depth):
            # the site's own statement pushed its target's old value before the call (a later
            # statement's adjoint reads it): the sweep is given the tape with it on top, so it pops it
            # first, as the adjoint of that statement does in the iterations before (was: not popped,
            # every later pop one off: a crash, `p = {"w": p["w"] - lr * g["w"], ...}` after
            # `g = dlgradient(loss, p)` in a loop, or the wrong residuals).  A self-contained sweep
            # recomputes the statements before the site, which push nothing for it.
            rev.append(self.adjoints.restore(block[index].targets[0].id))
        for block, index, parent, depth in reversed(site.frames):
            if depth > 0:            # inside a branch: adjoints accumulate from zero
                touched = self.live.touched(block[:index], R, self.gen.scope.relevant)
                rev.extend(self.adjoints.init_adjoints(touched, state))
            if isinstance(parent, (gast.For, gast.While)):
                # the site is in this loop's current iteration (just undone): now the
                # iterations before it
                part, R = self.adjoints.reverse_earlier_iterations(parent, R, depth, state)
                rev.extend(part)
            # the statements before the site in its block (inside `parent`, an if, the
            # branch is not recorded yet) are done
            part, R = self.adjoints.reverse_block(block[:index], R, depth, state)
            rev.extend(part)
        return rev

    def site_results(self, site: Site, body: List, head_at: int, rev: List, state) -> List:
        """The gradient of each x: the (captured) adjoint of its root names, with the x's own
        selection applied, projected on its value at the site."""
        head: List = []
        tail: List = []
        for r, (found, grad) in self.gen.scope.captures.items():
            head += [assign(found, const(False)), assign(grad, ZERO)]
            final = load(self.gen.d(r)) if r in state["initialized"] else ZERO
            tail.append(gast.If(test=gast.UnaryOp(op=gast.Not(), operand=load(found)),
                                body=[assign(grad, final)], orelse=[]))
        changed = set()
        for st in rev:
            changed |= self.summary(st)[2]
        results = _SiteResults(self, head, changed, state["initialized"], dict(site.entry)).results(site.sels)
        body[head_at:head_at] = head
        body.extend(tail)
        if any(sel.kind == "star" for sel in site.sels):
            parts = [r if sel.kind == "star" else gast.List(elts=[r], ctx=gast.Load())
                     for sel, r in zip(site.sels, results)]
            results = [call(self.rt("join_gradients"), [gast.List(elts=parts, ctx=gast.Load())])]
        return results

    def vjp_sweep(self, ret: gast.Return):
        relevant = None
        if self.gen.no_adjoint:         # only what the wanted parameters reach (as a site's sweep)
            wanted = {p for p in self.gen.params + [self.gen.vararg or ""]
                      if p in self.act.active and p not in self.gen.no_adjoint}
            relevant = frozenset(self.live.depends_on(wanted))
        self.gen.scope = SweepScope(relevant)
        state = {"initialized": set()}
        body: List = []
        R: Set[str] = set()
        if isinstance(ret.value, gast.Name) and ret.value.id in self.act.active:
            R = {ret.value.id}
            state["initialized"].add(ret.value.id)
            self.gen.d(ret.value.id)
        rev, R = self.adjoints.reverse_block(self.gen.fdef.body[:-1], R, 0, state)
        body.extend(rev)
        results = []
        for p in self.gen.params:
            if p in self.gen.no_adjoint:                  # the caller reads no adjoint of it
                results.append(ZERO)
            elif p in state.get("maybe_zero", ()):      # may still be the zero marker
                results.append(call(self.rt("adjoint_or_zeros"), [load(self.gen.d(p)), load(p)]))
            elif p in state["initialized"]:
                results.append(load(self.gen.d(p)))
            elif p in self.act.active:            # reached by nothing: the zero marker (callers test
                # for it; zeros would run their rules, and a rule's factor that is not finite there,
                # 2 ** a overflowed to inf, made 0 * inf a NaN where the gradient is finite); rt.ZERO itself,
                # which the `is not rt.ZERO` tests know (a literal 0.0 is another object)
                results.append(self.rt("ZERO"))
            else:
                results.append(ZERO)
        if self.gen.vararg:                            # one adjoint per extra argument
            adjoint = load(self.gen.d(self.gen.vararg)) if self.gen.vararg in state["initialized"] else ZERO
            results.append(gast.Starred(value=call(self.rt("vararg_adjoints"),
                                                   [adjoint, load(self.gen.vararg)]), ctx=gast.Load()))
        return body, results, ret

    # --- assembling functions ---------------------------------------------------------------------
    def sweep_function(self, name: str, body_and_result, results, site: Site,
                       self_contained: bool, seed: str) -> gast.FunctionDef:
        body, result = body_and_result, results
        uses_tape = any(self.gen.tape in self.summary(st)[3] for st in body)
        # (made only for a self-contained sweep: it asks the tape plan)
        tape_head = [assign(self.gen.tape, gast.List(elts=[], ctx=gast.Load()))] + \
            self.forward.unbound_inits() if self_contained else []
        if self_contained:
            read = {n for st in body + list(result) for n in self.summary(st)[1]}
            params = [p for p in self.gen.params + [self.gen.vararg] if p and p in read] + \
                [self.gen.effects_start]
            if id(site.stmt) in self.regions:     # recomputing from a statement on: the values it reads there
                params = part_parameters(self, site, body, read)
            if uses_tape:
                body = copy.deepcopy(tape_head) + body
        else:
            extra = [gast.Expr(value=load(site.y)), gast.Expr(value=site.xs[0])] \
                if site.kind != SiteKind.DLGRADIENT else []
            params = self.residual_names(body + list(result) + extra)
            if uses_tape and self.gen.tape not in params:
                params.append(self.gen.tape)
        self.summaries = {}
        self.gen.sweeps[name] = SweepPlan(name, site.line, tuple(params), uses_tape, self_contained)
        value = result[0] if len(result) == 1 else gast.Tuple(elts=result, ctx=gast.Load())
        header = self.gen.line_comment(site.line, "gradient at")
        fbody = [header] + body + [gast.Return(value=value)]
        fbody[-1].sct_user_line = site.line          # (sct/emit.py: errors of the projection name the site)
        if site.kind == SiteKind.DLGRADIENT:
            return [_function(name, params, fbody)]
        # dljacobian / dldivergence: the sweep takes its values packed, and a seed for u;
        # a second function runs it once per component of u.
        if not isinstance(site.dim, gast.Constant) or not isinstance(site.dim.value, int):
            self.fail(site.stmt, f"{site.kind}: dim must be a literal integer (the batch axis)", site.kind.value)
        packed = self.namer.fresh("values")
        sweep_name = self.namer.fresh(name + "_vjp")
        unpack = gast.Assign(targets=[gast.Tuple(elts=[store(p) for p in params], ctx=gast.Store())],
                             value=load(packed), type_comment=None)
        # the sweep runs once per component of u on the same values: it pops a copy of the tape
        # (was: the second run popped an empty list)
        recopy = [assign(self.gen.tape, call(self.rt("copy_list"), [load(self.gen.tape)]))] \
            if uses_tape and not self_contained else []
        sweep = _function(sweep_name, [packed, seed], [header, unpack] + recopy + body +
                          [gast.Return(value=value)])
        assembler = "batch_jacobian" if site.kind == SiteKind.DLJACOBIAN else "batch_divergence"
        assemble = gast.Return(value=call(self.rt(assembler), [
            load(sweep_name), gast.Tuple(elts=[load(p) for p in params], ctx=gast.Load()),
            load(site.y), site.xs[0], site.dim]))
        head: List = []
        if self_contained:          # u is recomputed here too: the assembler needs its shape
            head = copy.deepcopy(self.last_prefix)
            if any(isinstance(n, gast.Name) and n.id == self.gen.tape for st in head for n in walk_nodes(st)):
                head = copy.deepcopy(tape_head) + head
        whole = _function(name, params, [header] + head + [assemble])
        return [whole, sweep]

    def residual_names(self, stmts: List) -> List[str]:
        names: List[str] = []
        seen, adjoints = set(), set(self.gen.adjoint.values())     # sets: lists made this quadratic
        for st in stmts:
            for n in self.summary(st)[1]:
                if n in self.gen.forward_names and n not in seen and n not in adjoints:
                    seen.add(n)
                    names.append(n)
        return sorted(names, key=self.gen.order_key)

    def bwd_function(self, sweep) -> Tuple[gast.FunctionDef, Tuple[str, ...]]:
        """The helper's adjoint function, and the residuals its forward hands it."""
        body, results, ret = sweep
        self.summaries = {}
        params = self.residual_names(body + list(results))
        uses_tape = any(self.gen.tape in self.summary(st)[3] for st in body)
        self.summaries = {}
        if uses_tape and self.gen.tape not in params:
            params.append(self.gen.tape)
        dret = self.gen.d(ret.value.id) if isinstance(ret.value, gast.Name) else self.namer.fresh("d_out")
        residual_arg = self.namer.fresh("residuals")
        head = []
        if params:
            head.append(gast.Assign(targets=[gast.Tuple(elts=[store(p) for p in params] + [],
                                                        ctx=gast.Store())],
                                    value=load(residual_arg), type_comment=None))
            if len(params) == 1:
                head[0] = gast.Assign(targets=[gast.Tuple(elts=[store(params[0])], ctx=gast.Store())],
                                      value=load(residual_arg), type_comment=None)
        if uses_tape:          # pop a copy: the adjoint may run again on the same residuals
            head.append(assign(self.gen.tape, call(self.rt("copy_list"), [load(self.gen.tape)])))
        zeros = [call(self.rt("zero_adjoint"), [load(p)]) if p in self.act.active else ZERO
                 for p in self.gen.params]
        if self.gen.vararg:
            zeros.append(gast.Starred(value=call(self.rt("vararg_adjoints"), [ZERO, load(self.gen.vararg)]),
                                      ctx=gast.Load()))
        if all(isinstance(p, str) for p in self.gen.params) and \
                all(n.id in params for z in zeros if isinstance(z, gast.Call) for n in z.args):
            # nothing reached the value: every adjoint is zero, skip the sweep
            head.append(gast.If(test=gast.Compare(left=load(dret), ops=[gast.Is()],
                                                  comparators=[self.rt("ZERO")]),
                                body=[gast.Return(value=gast.Tuple(elts=zeros, ctx=gast.Load()))],
                                orelse=[]))
        value = gast.Tuple(elts=results, ctx=gast.Load())
        fbody = head + body + [gast.Return(value=value)]
        return _function(self.namer.fresh(self.gen.fname + "_bwd"), [residual_arg, dret], fbody), tuple(params)


class _SiteResults:
    """The result expression of each x of one site (``Sweeps.site_results``): its selection
    applied to the adjoint of its root name, projected on its value at the site; a value the
    sweep changes is read from a snapshot taken at the site (statements added to ``head``)."""

    def __init__(self, sweeps: "Sweeps", head: List, changed: Set[str], initialized, entry=None):
        self.sweeps, self.gen = sweeps, sweeps.gen
        self.head, self.changed, self.initialized = head, changed, initialized
        self.entry = entry or {}            # x0 -> p (Site.entry): x0's gradient is p's adjoint at the end
        self.snapshots: Dict[str, str] = {}

    def results(self, sels) -> List:
        self.sel_roots = set(_selection_roots(sels))        # (the names the site differentiates by)
        return [self.result(sel) for sel in sels]

    def primal(self, name: str):
        if name in self.changed:             # the sweep restores older values: keep the site's
            if name not in self.snapshots:
                self.sweeps.snapshotted.add(name)
                self.snapshots[name] = self.sweeps.namer.fresh(name + "_at_site")
                self.head.append(assign(self.snapshots[name], load(name)))
            return load(self.snapshots[name])
        return load(name)

    def primal_expr(self, node):
        return substitute(node, {n: self.primal(n) for n in set(loaded_names(node))})

    def grad_and_value(self, sel):
        kind = sel.kind
        if kind == "root":
            r = sel.name
            if r in self.entry:
                p = self.entry[r]
                return (load(self.gen.d(p)) if p in self.initialized else ZERO), self.primal(r)
            if r in self.gen.scope.captures:
                g = load(self.gen.scope.captures[r][1])
            else:
                g = load(self.gen.d(r)) if r in self.initialized else ZERO
            return g, self.primal(r)
        g, v = self.grad_and_value(sel.of)
        if kind == "item":
            index = self.primal_expr(sel.index)
            return (call(self.sweeps.rt("select_item"), [g, v, index_value(copy.deepcopy(index), self.gen.rt_name)]),
                    gast.Subscript(value=copy.deepcopy(v), slice=index, ctx=gast.Load()))
        return (call(self.sweeps.rt("select_attribute"), [g, v, const(sel.name)]),
                attr(copy.deepcopy(v), sel.name))

    def result(self, sel):
        kind = sel.kind
        if kind in ("list", "tuple"):
            elts = [self.result(e) for e in sel.parts]
            return gast.List(elts=elts, ctx=gast.Load()) if kind == "list" else \
                gast.Tuple(elts=elts, ctx=gast.Load())
        if kind == "dict":
            return gast.Dict(keys=[self.primal_expr(k) for k in sel.keys],
                             values=[self.result(e) for e in sel.parts])
        if kind == "star":
            return self.result(sel.of)
        return self.projected(sel, *self.grad_and_value(sel))

    def projected(self, sel, g, v):
        paths = untraced_leaves(self.gen, sel)
        roots = _tied_roots(self)
        if roots is not None and paths:
            # a tied dict beside plain float arrays (a fixed table): the sum, and zeros for those (was: refused)
            return call(self.sweeps.rt("project_tied_untraced"), [g, v, roots,
                gast.Tuple(elts=[gast.Tuple(elts=[const(e) for e in path], ctx=gast.Load())
                                 for path in paths], ctx=gast.Load())])
        if roots is not None:
            # dlfeval's arguments hold one dlarray at two places (tied weights): the gradient of each such
            # dlarray is the sum of the adjoints of all its places, summed from the arguments' adjoints
            # (runtime support.project_tied; was: refused, "hold at more than one place")
            return call(self.sweeps.rt("project_tied"), [g, v, roots])
        if paths:
            # plain (not dlarray) float arrays and numbers among the x's leaves: constants, whose
            # gradient is zero however they are read (was: read by a loop over the structure,
            # ``for w in p.values()``, they were differentiated as variables, while ``p["w"]``
            # read them as constants: a gradient of a part of the uses)
            return call(self.sweeps.rt("project_untraced"), [g, v,
                gast.Tuple(elts=[gast.Tuple(elts=[const(e) for e in path], ctx=gast.Load())
                                 for path in paths], ctx=gast.Load())])
        return call(self.sweeps.rt("project"), [g, v])


_MUTATORS = frozenset(("update", "setdefault", "pop", "popitem", "clear", "append", "extend", "insert",
                       "remove", "sort", "reverse", "__setitem__", "__delitem__", "__setattr__"))


# the code object of the function dlfeval compiles for arguments that hold one dlarray at two places or
# more (sct.api._entry sets it while compiling): its gradients sum the adjoints of every place (_tied_roots)
TIED_ENTRY = threading.local()


def _tied_roots(results: "_SiteResults"):
    """``((adjoint, value), ...)`` of every parameter, where the site's gradient may sum the adjoints of the
    places of a dlarray the arguments hold twice: the function dlfeval compiles for such arguments
    (TIED_ENTRY), its only site (none differentiated again: the sum is not differentiated), every
    parameter named (no ``*args``/``**kwargs``) and holding what dlfeval passed wherever the site reads it
    (_root_unchanged: then the parameters' adjoints hold every use of each place).  None otherwise (the
    gradient of such a dlarray stays refused: support.project)."""
    from .plans import CallKind
    gen = results.gen
    code = getattr(TIED_ENTRY, "code", None)
    if code is None or gen.mode != "entry" or gen.fname != code.co_name or gen.filename != code.co_filename or \
            gen.vararg is not None or gen.kwarg is not None or gen.site_records or \
            sum(info.kind == CallKind.SITE for info in gen.act.calls.values()) != 1:
        return None
    params = list(gen.params) + list(gen.kwonly)
    if not params or not all(_root_unchanged(gen, p) for p in params):
        return None
    # every parameter that may hold a dlarray is one the site differentiates by: the sweep computes the
    # adjoints of those only (was, without this: ``dlfeval(g, W, W, x)`` with dlgradient(L, a) summed a's
    # places only, b's adjoint never computed, a wrong gradient)
    roots = set(getattr(results, "sel_roots", ())) | {p for x0, p in results.entry.items()
                                                       if x0 in getattr(results, "sel_roots", ())}
    unread = set()
    for p in params:
        kind = gen.act.kinds.get(p)
        if p not in roots and kind is None:
            return None
        if p not in roots and kind_traced(kind):
            unread.add(p)
    # a parameter the site does not differentiate by that may hold a dlarray (an input X = dlarray(x)): its
    # adjoint is not computed, so its places are walked with rt.TIED_UNREAD, refused where it holds a tied
    # array (was: refused always, a tied model called with a dlarray input)
    pairs = [(results.sweeps.rt("TIED_UNREAD"), results.grad_and_value(Selection("root", name=p))[1])
             if p in unread else results.grad_and_value(Selection("root", name=p)) for p in params]
    return gast.Tuple(elts=[gast.Tuple(elts=list(pair), ctx=gast.Load()) for pair in pairs], ctx=gast.Load())


def _selection_roots(sels):
    """The root names of the selections ``sels``."""
    for sel in sels:
        while sel is not None and sel.kind != "root":
            if sel.parts:
                yield from _selection_roots(sel.parts)
                break
            sel = sel.of
        else:
            if sel is not None:
                yield sel.name


def _root_unchanged(gen, root: str) -> bool:
    """Whether the parameter ``root`` holds what dlfeval passed wherever a site reads it: neither it
    nor a name bound to it (``q = p``) is rebound or written into (items, attributes, a mutating
    method).  (A helper it is passed to that writes traced values into it is refused where it is
    called, as a write into an argument is.)"""
    nodes = walk_nodes_list(gen.fdef)
    names = {root}
    grew = True
    while grew:
        grew = False
        for node in nodes:
            if isinstance(node, gast.Assign) and isinstance(node.value, gast.Name) and node.value.id in names:
                for target in node.targets:
                    if isinstance(target, gast.Name):
                        if target.id not in names:
                            names.add(target.id)
                            grew = True

    augmented = {id(n.target) for n in nodes if isinstance(n, gast.AugAssign)}     # (``q += [v]``: in place)
    stored = {id(n.targets[0]): n.value for n in nodes if isinstance(n, gast.Assign) and len(n.targets) == 1}

    def based(node) -> bool:
        while isinstance(node, (gast.Subscript, gast.Attribute)):
            node = node.value
        return isinstance(node, gast.Name) and node.id in names
    for node in nodes:
        if isinstance(node, gast.Name) and node.id in names and not isinstance(node.ctx, gast.Load):
            # (rebinding a second name, ``one = p`` in one branch and ``one = p[0]`` in the other,
            # leaves p as it is; writes through it stay ``based``)
            if node.id == root and not isinstance(node.ctx, gast.Param) or \
                    node.id != root and (isinstance(node.ctx, gast.Del) or id(node) in augmented):
                return False
        if isinstance(node, (gast.Subscript, gast.Attribute)) and not isinstance(node.ctx, gast.Load) and \
                based(node.value) and not _number_field_set(gen, node, names, stored.get(id(node))):
            return False
        if isinstance(node, gast.Call) and isinstance(node.func, gast.Attribute) and \
                node.func.attr in _MUTATORS and based(node.func.value):
            return False
    return True


def _number_field_set(gen, node, names, value) -> bool:
    """Is ``node`` (a target) ``p.step`` of a parameter's name, set to a new value (arithmetic, a literal: no
    dlarray the arguments hold), the field holding a number, no dlarray, in the kind dlfeval's argument has
    (``net.step = net.step + 1`` of a step counter)?  The places of the arguments' dlarrays are then as dlfeval
    passed them (was: a tied model's loss counting its steps refused, "hold at more than one place")."""
    from .kinds import child_kind
    if isinstance(value, gast.Name):
        binds = [n.value for n in walk_nodes(gen.fdef) if isinstance(n, gast.Assign) and len(n.targets) == 1 and
                 isinstance(n.targets[0], gast.Name) and n.targets[0].id == value.id]
        value = binds[0] if len(binds) == 1 else None
    if not (isinstance(node, gast.Attribute) and isinstance(node.value, gast.Name) and node.value.id in names) or \
            not _new_number(value):
        return False
    kinds = [gen.act.kinds.get(n) for n in names if n in gen.params]
    fields = [child_kind(k, node.attr) for k in kinds]
    return bool(fields) and all(isinstance(f, tuple) and f[:1] == ("num",) and not kind_traced(f) for f in fields)


def _new_number(v) -> bool:
    """Is ``v`` a literal number or arithmetic that cannot be a list or tuple holding what it is given
    (``step + 1``, ``-n``; not ``a + b`` or ``[w] * 2``)?"""
    def number(o):
        return isinstance(o, gast.Constant) and type(o.value) in (int, float, complex, bool)
    if number(v) or isinstance(v, gast.UnaryOp):
        return True
    if not isinstance(v, gast.BinOp):
        return False
    if isinstance(v.op, gast.Add):
        return number(v.left) or number(v.right)
    if isinstance(v.op, gast.Mult):
        return any(isinstance(o, gast.Constant) and type(o.value) in (float, complex) for o in (v.left, v.right))
    return isinstance(v.op, (gast.Sub, gast.Div, gast.FloorDiv, gast.Pow))


def _untraced_paths(kind, path, out) -> bool:
    """Collect in ``out`` the paths to the plain float leaves of a kind; whether it holds a dlarray."""
    import numpy as np
    if not isinstance(kind, tuple) or not kind:
        return False
    tag = kind[0]
    if tag == "dl":
        return True
    if tag == "nd":
        try:
            if np.dtype(kind[1]).kind in "fc":
                out.append(path)
        except TypeError:
            pass
        return False
    if tag == "num":
        if kind[2] in (float, complex) or (kind[1] is not None and np.dtype(kind[1]).kind in "fc"):
            out.append(path)
        return False
    if tag == "obj" and not (isinstance(kind[1], type) and issubclass(kind[1], tuple) and
                             not _has_own_methods(kind[1])):
        # (an object's arrays: not a loop's, and a layer's custom backward owns them; its methods, and
        # the function itself, read them as variables (kinds.object_array_field).  Its Python number
        # fields (``self.eps = 1e-5``, a temperature) are settings, constants however they are read:
        # was their methods' derivative, while read directly they were constants, so a field read both
        # ways had a part of its derivative, 3 for 5.  A namedtuple with methods of its own is such an
        # object)
        if len(kind) > 2 and isinstance(kind[2], tuple) and not kind_traced(kind):
            # an object of plain arrays only is a constant, as a plain array is: its float leaves are
            # zero however it is read (was: walked by a loop, ``for l in layers: x = l(x)``, its
            # ``__call__``'s derivative came back for them, while ``layers[1](h)`` gave zeros, and
            # adamupdate trained the layer the user froze)
            for key, child in kind[2]:
                if isinstance(key, str):
                    _untraced_paths(child, path + ("attr", key), out)
            return True
        for key, child in (kind[2] if len(kind) > 2 and isinstance(kind[2], tuple) else ()):
            if not isinstance(key, str):
                continue
            if isinstance(child, tuple) and child and child[0] == "num" and \
                    (child[2] in (float, complex) or child[1] is not None and np.dtype(child[1]).kind in "fc"):
                out.append(path + ("attr", key))
            elif isinstance(child, tuple) and child and child[0] in ("obj", "seq", "map"):
                _objects_within(child, path + ("attr", key), out)
        return True
    if tag in ("map", "obj") and len(kind) > 2 and isinstance(kind[2], tuple):
        step = "item" if tag == "map" else "attr"
        found = False
        for key, child in kind[2]:
            if not isinstance(key, (str, int)) or isinstance(key, bool):
                return found or False
            found = _untraced_paths(child, path + (step, key), out) or found
        return found
    if tag == "seq" and len(kind) > 2 and isinstance(kind[2], tuple):
        found = False
        for i, child in enumerate(kind[2]):
            found = _untraced_paths(child, path + ("item", i), out) or found
        return found
    return False


def _objects_within(kind, path, out) -> None:
    """Collect in ``out`` the constant leaves of the objects of plain arrays only held in a field of an
    object that holds dlarrays (``self.layers = [Lin(dlarray(W)), Lin(V)]``): the field's own arrays
    are the object's variables, left as they are."""
    if not isinstance(kind, tuple) or not kind:
        return
    if kind[0] == "obj":
        _untraced_paths(kind, path, out)
    elif kind[0] in ("seq", "map") and len(kind) > 2 and isinstance(kind[2], tuple):
        for key, child in (enumerate(kind[2]) if kind[0] == "seq" else kind[2]):
            if not isinstance(key, (str, int)) or isinstance(key, bool):
                return
            _objects_within(child, path + ("item", key), out)


def untraced_leaves(gen, sel) -> List[Tuple]:
    """The paths (("item", key) / ("attr", name) steps, flattened) to the plain float arrays and
    numbers of what ``sel`` selects, an unchanged parameter holding dlarrays too (empty where not
    known)."""
    from .analysis import child_kind
    steps = []
    while sel.kind in ("item", "attr"):
        if sel.kind == "item":
            if not isinstance(sel.index, gast.Constant) or not isinstance(sel.index.value, (str, int)):
                return []
            steps.append(sel.index.value)
        else:
            steps.append(sel.name)
        sel = sel.of
    if sel.kind != "root" or sel.name not in getattr(gen, "params", ()):
        return []
    kind = parent = gen.act.kinds.get(sel.name)
    for key in reversed(steps):
        parent, kind = kind, child_kind(kind, key)
    paths: List[Tuple] = []
    holds = _untraced_paths(kind, (), paths)
    if not holds and not (steps and paths == [()] and not object_array_field(parent, kind)):
        # (a plain leaf selected by itself, ``dlgradient(y, p["v"])`` of a dict's plain array or an
        # object's Python number: a constant, zero however it is read (was: the part of a helper
        # reading it, 3 where read directly as well it is 5); an object's plain array is a variable)
        return []
    if not paths or not _root_unchanged(gen, sel.name):
        return []
    return paths
