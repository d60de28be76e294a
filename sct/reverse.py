"""Pass 3: write the forward code and the adjoint sweeps.

The forward function is the user's normalized code, plus a *tape* (a list)
that keeps, inside loops and branches only, the values an assignment
overwrites, the branch taken and the number of iterations.  Straight-line
code needs no tape: each top-level value has its own name.

Each ``dlgradient`` site becomes a call to a generated *sweep* function that
receives the values it needs by name, starts from ``d_y = rt.seed(y)`` and
runs the adjoint of every statement before the site, newest first (for a site
in a loop: the current iteration, then the earlier ones); it pops a copy of
the tape, so a later site can sweep again.  A function differentiated from its
caller (a helper, a method, a constructor) becomes a pair ``name_fwd`` (returns
its value and what its adjoint needs) / ``name_bwd`` (takes that and the
adjoint of the value, returns the adjoints of the arguments), obtained at run
time with ``rt.vjp``.  A gradient that a later site differentiates again gets a
*self-contained* sweep (it recomputes what precedes it from the arguments) and
is called through its own pair, so the later sweep differentiates generated
code like any other.

Inside loops and branches an adjoint that nothing has reached yet is the
marker ``rt.ZERO``; rules are linear in the adjoint, so a rule whose adjoint is
the marker is skipped (``if d_t is not rt.ZERO:``) instead of computing zeros.

Each adjoint statement is the op's rule from ``runtime`` with the user's
names put in, so the printed code reads like the rule table.
"""
from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Dict, FrozenSet, List, Optional, Set, Tuple

import gast

from .adjoints import StatementAdjoints
from .analysis import Activity, Resolver
from .calls import CallLowering
from .complex_adjoints import ComplexProjection
from .contributions import Contributions
from .forward_code import ForwardCode
from .generation import Generation
from .ir import walk_nodes
from .naming import Namer
from .plans import AskedPlan, FunctionFacts, Mode, SweepRecords, TapePlan
from .sites import Site, SiteFinding, function_facts
from .sweeps import Sweeps
# re-exported: tangent.py builds its code with these
from .unroll import refused_site
from .templates import _function, _reach, instantiate_template, simplify  # noqa: F401


class Generated:
    """The functions generated for one user function."""

    def __init__(self):
        self.functions: List[gast.FunctionDef] = []
        self.entry: str = ""
        self.fwd: Optional[str] = None
        self.bwd: Optional[str] = None
        # the sweeps (not self-contained) and the helper's adjoint, and the adjoint names they
        # assign: sct/dead_adjoints.py removes those assignments nothing reads
        self.prunable: FrozenSet[str] = frozenset()
        self.adjoint_names: FrozenSet[str] = frozenset()
        self.dict_params: FrozenSet[str] = frozenset()     # parameters that hold a dict, never rebound


class Transformer:
    """Runs the passes over one function (see the module's docstring and ``build``)."""

    def __init__(self, fdef: gast.FunctionDef, filename: str, activity: Activity,
                 resolver: Resolver, namer: Namer, mode: str, numpy_name: str,
                 rt_names: Dict[int, str], rt_name: str = "rt"):
        self.fdef = fdef
        self.filename = filename
        self.act = activity
        self.resolver = resolver
        self.namer = namer
        self.mode = Mode(mode)
        self.np = numpy_name
        self.rt_names = rt_names
        self.rt_name = rt_name
        self.tape = namer.fresh("tape")
        self.effects_start = namer.fresh("effects_start")   # where recomputations replay from
        # entry mode: a helper call no sweep differentiates through runs its code as dlfeval
        # would (no pair, no residuals); off where the entry is differentiated again (jvp)
        self.primal_calls = self.mode == Mode.ENTRY
        # VJP mode: parameters the caller wants no adjoint of (NO_ADJOINT in its mask; set by
        # compile_function): the adjoint sweep follows only the others
        self.no_adjoint: Set[str] = set()

    # --- entry point -------------------------------------------------------------------------
    def build(self) -> Generated:
        """The pipeline: the function's facts and sites (analysis, frozen); the sweeps are
        written once, with a tape plan that assumes every primal value is read, recording each
        question asked of that plan (``AskedPlan``); what they read gives the real plan
        (``tape_plan``).  Where every answer is the same under the real plan, the sweeps are
        already what it writes; where only pops differ (a value in a loop no adjoint reads),
        they are what it writes less those pops (``drop_pops``).  Then the helper pairs' masks
        are narrowed and the forward code is written, once.  Where some other answer differs,
        the sweeps are written again with the real plan, from the same names."""
        facts = function_facts(self.fdef, self.filename)
        finding = SiteFinding(self.fdef, facts, self.act)
        sites = finding.find_sites()
        finding.release()
        memo: Dict = {}                 # liveness's fixed points, the same for both generations
        taken = set(self.namer.taken)
        asked = AskedPlan(facts.stored)
        gen = self.generation(facts, TapePlan(asked), memo)
        passes = EmitPasses(gen)
        functions = passes.sweep_functions(sites)
        plan = tape_plan(functions.records, self.mode, self.primal_calls)
        dropped = asked.dropped(plan.needed)
        if dropped == frozenset() or (dropped and not gen.site_records and
                                      drop_pops(passes, functions, dropped)):
            gen.use_plan(plan)
            passes.calls.refresh_masks()
        else:
            self.namer.taken = taken
            passes = EmitPasses(self.generation(facts, plan, memo))
            functions = passes.sweep_functions(sites)
        return passes.with_forward(functions)

    def generation(self, facts: FunctionFacts, plan: TapePlan, memo: Dict) -> Generation:
        return Generation(self.fdef, facts, self.act, self.resolver, self.namer, self.mode, self.np,
                          self.rt_names, self.rt_name, self.tape, self.effects_start, plan,
                          self.primal_calls, frozenset(self.no_adjoint), memo)


def tape_plan(records: SweepRecords, mode: Mode, primal_calls: bool) -> TapePlan:
    """What the first sweeps found: the primal values the adjoints read, and which argument
    adjoints each helper call's sweep reads -- narrowed only where no sweep's code is
    differentiated again (a gradient of a gradient, forward over reverse): there the pairs'
    code is, and needs every active argument."""
    reads = dict(records.adjoint_reads) \
        if (mode == Mode.VJP or primal_calls) and not records.site_records else None
    return TapePlan(records.needed, reads)


def drop_pops(passes: "EmitPasses", made: "SweptFunctions", dropped: FrozenSet[str]) -> bool:
    """Drop, from the sweeps written under the first plan, the pops of ``dropped`` (values no
    adjoint reads) and the comments of the statements left with no code, as the real plan
    writes them (``StatementAdjoints.block_logs``: the comment rule of ``reverse_block`` again).
    Changes nothing and answers False where more would differ: a statement list left empty (a
    branch or loop the real plan writes otherwise), a comment to add, a sweep that no longer
    reads the tape, a popped name a site's results keep as at the site."""
    adjoints = passes.adjoints
    if dropped & passes.sweeps.snapshotted:
        return False
    remove = {key for key, (_, name) in adjoints.restored_pops.items() if name in dropped}
    for log in adjoints.block_logs:
        last_line = None
        for line, compound, comment, stmts in log:
            if compound:
                continue
            if all(id(n) in remove for n in stmts):
                if comment is not None:
                    remove.add(id(comment))
                continue
            if line is not None and line != last_line:
                if comment is None:
                    return False
                last_line = line
            elif comment is not None:
                remove.add(id(comment))
    functions = list(made.functions) + ([made.bwd] if made.bwd is not None else [])
    edits: List[Tuple[gast.AST, str, List]] = []
    tape = passes.gen.tape
    for fn in functions:
        before = after = False
        for node in walk_nodes(fn):
            for field in ("body", "orelse"):
                stmts = getattr(node, field, None)
                if isinstance(stmts, list) and stmts and isinstance(stmts[0], gast.stmt):
                    kept = [st for st in stmts if id(st) not in remove]
                    if not kept:
                        return False
                    if len(kept) != len(stmts):
                        edits.append((node, field, kept))
        for st in fn.body:
            before = before or _reads_tape(st, tape, ())
            after = after or _reads_tape(st, tape, remove)
        if before != after:
            return False
    for node, field, kept in edits:
        setattr(node, field, kept)
    return True


def _dict_kind(kind) -> bool:
    """An argument's kind (sct/kinds.py, what the code is specialised on) that is a dict's."""
    return isinstance(kind, tuple) and len(kind) > 1 and kind[0] == "map" and isinstance(kind[1], type) and \
        issubclass(kind[1], dict)


def _reads_tape(node, tape: str, removed) -> bool:
    """Does ``node`` (less the statements in ``removed``) use the tape?"""
    if id(node) in removed:
        return False
    if isinstance(node, gast.Name):
        return node.id == tape
    return any(_reads_tape(child, tape, removed) for child in gast.iter_child_nodes(node))


@dataclass(frozen=True)
class SweptFunctions:
    """What ``EmitPasses.sweep_functions`` makes: the sweep functions in order, the helper's
    adjoint and the residuals its forward returns (VJP mode), and what the sweeps read."""
    functions: Tuple[gast.FunctionDef, ...]
    bwd: Optional[gast.FunctionDef]
    residuals: Tuple[str, ...]
    records: SweepRecords
    prunable: Tuple[str, ...] = ()      # the functions of sweeps not self-contained, and bwd


class EmitPasses:
    """The emitting passes of one generation, and the order they run in."""

    def __init__(self, gen: Generation):
        self.gen = gen
        self.calls = CallLowering(gen)
        self.contrib = Contributions(gen, self.calls, ComplexProjection(gen))
        self.adjoints = StatementAdjoints(gen, self.calls, self.contrib)
        self.forward = ForwardCode(gen, self.calls)
        self.sweeps = Sweeps(gen, self.adjoints, self.forward)

    def sweep_functions(self, sites: Tuple[Site, ...]) -> SweptFunctions:
        """Each site's sweep (in order), then the helper's adjoint (VJP mode)."""
        gen, sweeps = self.gen, self.sweeps
        gen.checks.sites = sites
        functions: List[gast.FunctionDef] = []
        prunable: List[str] = []
        for k, site in enumerate(sites):
            name = gen.namer.fresh(f"{gen.fname}_dlgradient_line{site.line}")
            gen.site_calls[id(site.stmt)] = name
            if not site.options.enable_higher_derivatives:
                gen.constant_sites.add(id(site.stmt))
            target = site.stmt.targets[0].id
            if site.options.enable_higher_derivatives and target in gen.act.active and \
                    gen.live.higher_order_needed(site, sites[k + 1:], sites):
                if site.in_loop:
                    with refused_site(site.line):
                        gen.fail(site.stmt, "a gradient computed inside a loop cannot be differentiated "
                                 "again unless the loop is `for i in range(n)` (Python's own range) with n a literal int, "
                                 "or a global or closure int, of at most 64 steps and no break, continue or return "
                                 "(sct writes it out step by step; an int argument is not known when it compiles: "
                                 "make it a global or a closure value): compute it after the loop, or pass "
                                 "EnableHigherDerivatives=False",
                                 "dlgradient")
                gen.checks.check_arguments_kept(site)
                gen.checks.check_outside_writes(site)
                gen.site_records.add(id(site.stmt))
            contained = id(site.stmt) in gen.site_records
            seed = gen.namer.fresh("seed")
            inner = [s for s in sites[:k] if id(s.stmt) in gen.site_records]
            body, result = sweeps.site_sweep(site, contained, seed, inner)
            made = sweeps.sweep_function(name, body, result, site, contained, seed)
            functions.extend(made)
            if not contained:
                prunable.extend(fn.name for fn in made)
        bwd, residuals = sweeps.bwd_function(sweeps.vjp_sweep(gen.fdef.body[-1])) \
            if gen.mode == Mode.VJP else (None, ())
        if bwd is not None:
            prunable.append(bwd.name)
        records = SweepRecords(frozenset(self.adjoints.needed),
                               MappingProxyType({k: frozenset(v) for k, v in self.contrib.adjoint_reads.items()}),
                               frozenset(gen.site_records))
        return SweptFunctions(tuple(functions), bwd, residuals, records, tuple(prunable))

    def with_forward(self, made: SweptFunctions) -> Generated:
        """The forward code that calls the sweeps, first; the functions in their order."""
        bwd = made.bwd
        out = Generated()
        out.functions = list(made.functions)
        fwd = self.forward.forward_function(made.residuals)
        out.functions.insert(0, fwd)
        out.entry = fwd.name
        gen = self.gen
        out.prunable = frozenset(made.prunable)
        out.adjoint_names = frozenset(gen.adjoint.values()) | frozenset(gen.adjoint_aliases) | \
            frozenset(gen.adjoint_temps)
        bound = {n.id for n in walk_nodes(gen.fdef)
                 if isinstance(n, gast.Name) and isinstance(n.ctx, (gast.Store, gast.Del))}
        out.dict_params = frozenset(p for p in gen.params if p not in bound and _dict_kind(gen.act.kinds.get(p)))
        if self.gen.mode == Mode.VJP:
            out.fwd = fwd.name
            out.functions.insert(1, bwd)
            out.bwd = bwd.name
        return out
