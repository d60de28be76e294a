"""The state of one generation of a function's code, shared by the emitting passes.

``reverse.Transformer.build`` makes one ``Generation`` (a second only where the tape plan the
sweeps were first written under answers some question differently from the real one): it holds
what the analyses found (read only: the function's facts, its activity, liveness, the site
checks, the tape plan) and the names the emitting passes make as they go (adjoint names, loop
counters, the sweeps and helper pairs made so far).  What the sweeps read (the primal values,
the helpers' argument adjoints) is recorded by the passes that find it and handed on as a
frozen ``plans.SweepRecords``.  The emitting passes (``calls.CallLowering``,
``complex_adjoints.ComplexProjection``, ``contributions.Contributions``,
``adjoints.StatementAdjoints``, ``forward_code.ForwardCode``, ``sweeps.Sweeps``) each hold it
as ``self.gen`` and the passes they call by name.
"""
from __future__ import annotations

from functools import partial
from typing import Any, Callable, Dict, FrozenSet, List, Optional, Set

import gast

from .analysis import Activity, Resolver, leaf_kind
from .emit import comment
from .ir import attr, load
from .liveness import Liveness
from .naming import Namer
from .parse import source_line
from .plans import AskedPlan, FunctionFacts, Mode, SweepPlan, SweepScope, TapePlan
from .site_checks import SiteChecks


class Generation:
    """One generation's inputs (read only) and the state the emitting passes share."""

    def __init__(self, fdef: gast.FunctionDef, facts: FunctionFacts, activity: Activity,
                 resolver: Resolver, namer: Namer, mode: Mode, numpy_name: str,
                 rt_names: Dict[int, str], rt_name: str, tape: str, effects_start: str,
                 plan: TapePlan, primal_calls: bool, no_adjoint: FrozenSet[str],
                 depends_on_memo: Dict):
        # --- inputs: the function, what analysis found, the plans (read only) ---------------
        self.fdef = fdef
        self.facts = facts
        self.filename = facts.filename
        self.fname = facts.fname
        self.act = activity
        self.resolver = resolver
        self.namer = namer
        self.mode = mode
        self.np = numpy_name
        self.rt_names = rt_names
        self.rt_name = rt_name
        self.params = list(facts.params)
        self.kwonly = list(facts.kwonly)
        self.vararg = facts.vararg
        self.kwarg = facts.kwarg
        self.def_order = facts.def_order
        self.tape = tape
        self.effects_start = effects_start                 # where recomputations replay from
        # the primal values the adjoints read (the first plan assumes all, asking as it goes) and,
        # per helper call, which arguments' adjoints a sweep reads (None: every active one)
        self.plan = plan
        self.read_plan = plan.reads
        # entry mode: a helper call no sweep differentiates through runs its code as dlfeval
        # would (no pair, no residuals); off where the entry is differentiated again (jvp)
        self.primal_calls = primal_calls
        # VJP mode: parameters the caller wants no adjoint of: the adjoint sweep follows the others
        self.no_adjoint = no_adjoint
        # --- what the emitting passes make and record ----------------------------------------
        self.adjoint: Dict[str, str] = {}                # primal name -> its adjoint's name
        self._primal_by_adjoint: Dict[str, str] = {}
        self._primal_by_adjoint_of: Optional[Dict[str, str]] = None    # the adjoint map it inverts
        # adjoints held under another name: ``x = f(x)`` in a loop or branch keeps the new x's adjoint in
        # ``d_x_out`` (sct/adjoints.py): its realness is that value's (was: an unknown name, taken for
        # real, so np.conj's rule lost its conj there: a conjugated gradient, silently)
        self.adjoint_aliases: Dict[str, str] = {}
        # temporaries a rule's contributions read (``d_t_operands = rt.einsum_adjoints(d_t, (...))``, a call
        # several contributions share): name -> the expression it holds, whose realness is the temporary's
        # (was: an unknown name, taken for real, so a real operand's adjoint read from it was not
        # projected: einsum / append / select of a complex and an np.abs(y) operand, a wrong dL/dy)
        self.adjoint_temps: Dict[str, Any] = {}
        self.counters: Dict[int, str] = {}              # id(loop) -> its iteration counter
        self.forward_names: Set[str] = set(facts.stored)   # every name the forward code binds
        self.uses_tape = False
        self.site_calls: Dict[int, str] = {}            # id(site statement) -> its sweep's name
        self.site_records: Set[int] = set()             # ids of sites differentiated again
        # id(statement) -> the name the forward binds to ``rt.effect_position()`` just before it: where
        # the self-contained sweep of a site that recomputes from that statement on replays from
        self.effect_marks: Dict[int, str] = {}
        self.constant_sites: Set[int] = set()           # ids of sites with EnableHigherDerivatives=False
        self.sweeps: Dict[str, SweepPlan] = {}          # the sweep functions made so far
        # liveness reads what the sweeps of gradients differentiated again read (so far): given
        # those records, not this object (no reference cycle keeping the trees for the collector)
        self.live = Liveness(fdef, facts, activity, mode,
                             site_inputs(self.site_calls, self.site_records, self.sweeps, tape),
                             depends_on_memo)
        self.checks = SiteChecks(fdef, facts, self.live)
        # --- the state of one sweep ------------------------------------------------------------
        self.scope = SweepScope()                       # what it follows (set by Sweeps)

    def use_plan(self, plan: TapePlan) -> None:
        """The real tape plan, once the sweeps written under the first one are known to be
        what it writes (``reverse.Transformer.build``): the forward code reads it."""
        self.plan = plan
        self.read_plan = plan.reads

    # --- helpers every emitting pass uses ----------------------------------------------------
    def restored(self, name: str) -> bool:
        """Does the tape plan restore ``name`` in the sweeps (does some adjoint read it)?"""
        needed = self.plan.needed
        return needed.restored(name) if isinstance(needed, AskedPlan) else name in needed

    def needs_tape(self, s) -> bool:
        """Does the adjoint of this compound statement do anything, under the tape plan?"""
        needed = self.plan.needed
        if isinstance(needed, AskedPlan):
            return needed.decide(partial(self.live.needs_tape, s))     # (holds no reference to self)
        return self.live.needs_tape(s, needed)

    def fail(self, node, message: str, construct: str):
        self.facts.fail(node, message, construct)

    def d(self, name: str) -> str:
        if name not in self.adjoint:
            fresh = self.namer.fresh("d_" + name)
            in_sync = self._primal_by_adjoint_of is self.adjoint and \
                len(self._primal_by_adjoint) == len(self.adjoint)
            self.adjoint[name] = fresh
            if in_sync:                 # keep primal_of's inverse map current (no rebuild per name)
                self._primal_by_adjoint[fresh] = name
        return self.adjoint[name]

    def primal_of(self, name: str) -> str:
        """The value whose adjoint is called ``name`` (or ``name`` itself)."""
        if self._primal_by_adjoint_of is not self.adjoint or len(self._primal_by_adjoint) != len(self.adjoint):
            self._primal_by_adjoint = {adj: primal for primal, adj in self.adjoint.items()}
            self._primal_by_adjoint_of = self.adjoint
        primal = self._primal_by_adjoint.get(name)
        return primal if primal is not None else self.adjoint_aliases.get(name, name)

    def is_array(self, name: str) -> bool:
        return (name in self.act.arrays or leaf_kind(self.act.kinds.get(name)) is not None) and \
            name not in self.act.lists

    def may_be_array(self, name: str) -> bool:
        """Is ``name`` bound to an array or number somewhere (its kind, an assignment), whether or
        not it is also bound to a list elsewhere?"""
        return name in self.act.arrays or leaf_kind(self.act.kinds.get(name)) is not None

    def adds_as_array(self, name: str) -> bool:
        """Is ``name`` surely an array or number wherever it is bound (its adjoints add with ``+``,
        not ``rt.add_grad``): not one another assignment may bind to a tuple, list or dict."""
        return self.is_array(name) and name not in getattr(self.act, "mixed", ())

    def counter(self, loop) -> str:
        if id(loop) not in self.counters:
            name = self.namer.fresh("n_" + (loop.target.id if isinstance(loop, gast.For) else "while"))
            self.counters[id(loop)] = name
            self.forward_names.add(name)
        return self.counters[id(loop)]

    def rt(self, name: str):
        return attr(load(self.rt_name), name)

    def line_comment(self, line: int, prefix: str):
        text = source_line(self.filename, line)
        head = f"{prefix} line {line}" if prefix else f"line {line}"
        return comment(f"{head}: {text}" if text else head, line=line)

    def order_key(self, name: str):
        return (self.def_order.get(name, 10**6), name)


def site_inputs(site_calls: Dict[int, str], site_records: Set[int], sweeps: Dict[str, SweepPlan],
                tape: str) -> Callable[[gast.stmt], List[str]]:
    """What the sweep of a gradient differentiated again reads (for ``Liveness``): the
    parameters of its sweep once made, less the tape; [] for any other statement."""
    def inputs(s) -> List[str]:
        name = site_calls.get(id(s))
        if name is None or id(s) not in site_records:
            return []
        return [p for p in sweeps[name].params if p != tape] if name in sweeps else []
    return inputs


class EmitPass:
    """An emitting pass: reads the generation's inputs, records in its state."""

    def __init__(self, gen: Generation):
        self.gen = gen
        self.act = gen.act          # (read only, as named here for brevity)
        self.live = gen.live
        self.facts = gen.facts
        self.namer = gen.namer
        self.fail = gen.fail        # (pure helpers)
        self.rt = gen.rt
