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

from typing import Dict, FrozenSet, List, Optional, Set, Tuple

import gast

from .adjoints import StatementAdjoints
from .analysis import Activity, Resolver
from .calls import CallLowering, VjpCall
from .complex_adjoints import ComplexProjection
from .contributions import Contributions
from .forward_code import ForwardCode
from .ir import attr, load
from .liveness import Liveness
from .naming import Namer
from .plans import Mode, SweepPlan, TapePlan
from .site_checks import SiteChecks
from .sites import Site, SiteFinding, function_facts
from .sweeps import Sweeps
# re-exported: tangent.py builds its code with these
from .templates import _function, _reach, instantiate_template, simplify  # noqa: F401


class Generated:
    """The functions generated for one user function."""

    def __init__(self):
        self.functions: List[gast.FunctionDef] = []
        self.entry: str = ""
        self.fwd: Optional[str] = None
        self.bwd: Optional[str] = None


class Transformer(CallLowering, Contributions, ComplexProjection, StatementAdjoints, Sweeps,
                  ForwardCode):
    """Runs the passes over one function (see the module's docstring): the sites, then for
    each its sweep, then the forward code; ``build`` runs it twice (see there)."""

    def __init__(self, fdef: gast.FunctionDef, filename: str, activity: Activity,
                 resolver: Resolver, namer: Namer, mode: str, numpy_name: str,
                 rt_names: Dict[int, str], rt_name: str = "rt"):
        self.rt_name = rt_name
        self.fdef = fdef
        self.filename = filename
        self.act = activity
        self.resolver = resolver
        self.namer = namer
        self.mode = Mode(mode)
        self.np = numpy_name
        self.rt_names = rt_names
        # the analyses every later pass reads (frozen or read-only)
        self.facts = facts = function_facts(fdef, filename)
        self.live = Liveness(fdef, facts, activity, self.mode, self.site_inputs)
        self.checks = SiteChecks(fdef, facts, self.live)
        self.params = list(facts.params)
        self.kwonly = list(facts.kwonly)
        self.vararg = facts.vararg
        self.kwarg = facts.kwarg
        self.adjoint: Dict[str, str] = {}
        self._primal_by_adjoint: Dict[str, str] = {}
        self._primal_by_adjoint_of: Optional[Dict[str, str]] = None    # the adjoint map it inverts
        self.tape = namer.fresh("tape")
        self.needed: Set[str] = set()      # primal names some adjoint reads
        self.uses_tape = False
        self.forward_names: Set[str] = set(facts.stored)
        self.counters: Dict[int, str] = {}
        self.site_calls: Dict[int, str] = {}
        self.def_order = facts.def_order
        self.fname = fdef.name
        self.relevant: Optional[Set[str]] = None
        self.effects_start = namer.fresh("effects_start")   # where recomputations replay from
        # entry mode: a helper call no sweep differentiates through runs its code as dlfeval
        # would (no pair, no residuals); off where the entry is differentiated again (jvp)
        self.primal_calls = self.mode == Mode.ENTRY
        self._in_forward = False
        # what the liveness pass found (see build): the primal values the adjoints read
        self.plan = TapePlan(frozenset())
        # which arguments' adjoints a sweep reads, per helper call (id of its statement): pass A
        # records them, pass B asks the pair for those alone (an argument no dlgradient target
        # reaches, the data of a loss, gets no adjoint computed); None: every active argument
        self.adjoint_reads: Dict[int, Set[int]] = {}
        self.read_plan: Optional[Dict[int, FrozenSet[int]]] = None
        # VJP mode: parameters the caller wants no adjoint of (NO_ADJOINT in its mask; set by
        # compile_function): the adjoint sweep follows only the others
        self.no_adjoint: Set[str] = set()
        # the state of one generation (reset by generate)
        self.nested_counters: Set[str] = set()         # loop counters of loops inside compounds
        self.vjp_calls: Dict[int, VjpCall] = {}         # id(statement) -> its lowered call
        self.site_records: Set[int] = set()             # ids of sites differentiated again
        self.sweeps: Dict[str, SweepPlan] = {}          # the sweep functions made so far
        self.residuals: List[str] = []                  # what a VJP forward hands its adjoint
        self.sites_so_far: List[Site] = []              # the sites before the one being swept
        self.seed_name = ""                             # the seed parameter of a batched sweep
        # the state of one sweep
        self.captures: Dict[str, Tuple[str, str]] = {}  # root -> (found flag, its gradient)
        self.last_prefix: List = []                     # a self-contained sweep's recomputation
        self.pending_pre: List = []                     # statements before a contribution

    # --- helpers --------------------------------------------------------------------------
    def fail(self, node, message: str, construct: str):
        self.facts.fail(node, message, construct)

    def site_inputs(self, s) -> List[str]:
        """What the sweep of a gradient differentiated again reads (for ``Liveness``): the
        parameters of its sweep once made, less the tape; [] for any other statement."""
        name = self.site_calls.get(id(s))
        if name is None or id(s) not in self.site_records:
            return []
        return [p for p in self.sweeps[name].params if p != self.tape] if name in self.sweeps else []

    def d(self, name: str) -> str:
        if name not in self.adjoint:
            fresh = self.namer.fresh("d_" + name)
            in_sync = self._primal_by_adjoint_of is self.adjoint and \
                len(self._primal_by_adjoint) == len(self.adjoint)
            self.adjoint[name] = fresh
            if in_sync:                 # keep primal_of's inverse map current (no rebuild per name)
                self._primal_by_adjoint[fresh] = name
        return self.adjoint[name]

    def is_array(self, name: str) -> bool:
        from .analysis import leaf_kind
        return (name in self.act.arrays or leaf_kind(self.act.kinds.get(name)) is not None) and \
            name not in self.act.lists

    def counter(self, loop) -> str:
        if id(loop) not in self.counters:
            name = self.namer.fresh("n_" + (loop.target.id if isinstance(loop, gast.For) else "while"))
            self.counters[id(loop)] = name
            self.forward_names.add(name)
        return self.counters[id(loop)]

    # --- entry point -------------------------------------------------------------------------
    def build(self) -> Generated:
        # Pass A finds which primal values the adjoints read (so only those are
        # recorded); pass B writes the code with that knowledge.  Pass A's
        # names are thrown away, so the output does not depend on it.
        self.sites = SiteFinding(self.fdef, self.facts, self.act).find_sites()
        snapshot = (set(self.namer.taken), dict(self.adjoint), dict(self.counters),
                    set(self.forward_names))
        self.plan = TapePlan(frozenset(self.forward_names))      # pass A: assume all are read
        self.generate()
        needed = frozenset(self.needed)
        # narrowed only where no sweep's code is differentiated again (a gradient of a gradient,
        # forward over reverse): there the pairs' code is, and needs every active argument
        read_plan = {k: frozenset(v) for k, v in self.adjoint_reads.items()} \
            if (self.mode == Mode.VJP or self.primal_calls) and not self.site_records else None
        (self.namer.taken, self.adjoint, self.counters, self.forward_names) = snapshot
        self.needed = set()
        self.uses_tape = False
        self.plan = TapePlan(needed)
        self.read_plan = read_plan
        return self.generate()

    def generate(self) -> Generated:
        out = Generated()
        self.site_calls = {}
        self.adjoint_reads = {}
        self.nested_counters = set()
        self.vjp_calls = {}
        self.site_records = set()
        self.sweeps = {}
        self.residuals = []
        sites = list(self.sites)
        for k, site in enumerate(sites):
            self.sites_so_far = sites[:k]
            name = self.namer.fresh(f"{self.fname}_dlgradient_line{site.line}")
            self.site_calls[id(site.stmt)] = name
            target = site.stmt.targets[0].id
            if site.options.enable_higher_derivatives and target in self.act.active and \
                    self.live.higher_order_needed(site, sites[k + 1:]):
                if site.in_loop:
                    self.fail(site.stmt, "a gradient computed inside a loop cannot be differentiated "
                              "again yet: compute it after the loop, or pass "
                              "EnableHigherDerivatives=False", "dlgradient")
                self.checks.check_arguments_kept(site)
                self.site_records.add(id(site.stmt))
            contained = id(site.stmt) in self.site_records
            self.seed_name = self.namer.fresh("seed")
            body, result = self.site_sweep(site, contained)
            out.functions.extend(self.sweep_function(name, body, result, site, contained))
        if self.mode == Mode.VJP:
            bwd = self.bwd_function(self.vjp_sweep(self.fdef.body[-1]))
        forward = self.forward_function()
        out.functions.insert(0, forward)
        out.entry = forward.name
        if self.mode == Mode.VJP:
            out.fwd = forward.name
            out.functions.insert(1, bwd)
            out.bwd = bwd.name
        return out

    def rt(self, name: str):
        return attr(load(self.rt_name), name)


