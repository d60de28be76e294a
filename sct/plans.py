"""The typed, frozen results the reverse-mode passes hand to the code writers.

``Mode``: what is generated for a function (``ENTRY``: the code dlfeval runs; ``VJP``: a
forward/adjoint pair for a function differentiated from its caller).  ``TapePlan``: what the
liveness pass found the adjoints read, so the forward code records exactly that.
``FunctionFacts``: what the passes read of the function itself, found once.
``SweepPlan``: one site's sweep function as its callers see it (what it reads, whether it
pops the tape).  The site itself is a ``sites.Site``; a lowered helper call a ``calls.VjpCall``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from types import MappingProxyType
from typing import Callable, Dict, FrozenSet, List, Mapping, NoReturn, Optional, Tuple

from .errors import CompileError


class Mode(str, Enum):
    ENTRY = "entry"
    VJP = "vjp"

    def __str__(self) -> str:
        return self.value


class CallKind(str, Enum):
    """What a call in the user's code is, as analysis classifies it (``analysis.CallInfo.kind``)."""
    SITE = "site"              # dlgradient, dljacobian, dldivergence, dllaplacian
    STOP = "stop"              # extractdata, stop_gradient: the value, no derivative
    CREATE = "create"          # dlarray(...)
    OP = "op"                  # an op with a derivative rule (runtime registry, sct.defrule)
    NONDIFF = "nondiff"        # an op declared without derivative, or an empty user class
    FUNCTION = "function"      # a user's function, class or callable object: differentiated through
    METHOD = "method"          # x.name(...) on a local: an op's method or a user's method
    PLAIN = "plain"            # anything else (builtins, unresolved globals): run as it is

    def __str__(self) -> str:
        return self.value

    __format__ = str.__format__


#: An activity-mask entry of a helper's pair (``rt.vjp_at(site, f, mask, ...)``): the argument
#: is traced, but no sweep of the caller reads its adjoint, so the pair's adjoint skips it (the
#: data of a loss).  Truthy, so everything that asks "traced?" answers as for ``True``.
NO_ADJOINT = "no_adjoint"


@dataclass(frozen=True)
class TapePlan:
    """The primal values some adjoint reads: inside loops and branches the forward code
    records them on the tape (and the sweeps pop them); at the top level they are passed
    to the sweeps by name.  The first generation assumes every forward name is read.
    ``reads``: per helper call (id of its statement), the arguments whose adjoints a sweep
    reads, so the pair is asked for those alone; None: every active argument."""
    needed: FrozenSet[str]
    reads: Optional[Mapping[int, FrozenSet[int]]] = None


class AskedPlan:
    """The first generation's ``needed``: every primal name counts as read, and each name the
    passes ask about is kept with its answer, so ``build`` can tell whether the real plan
    would have answered the same (then the code written is the code the real plan writes)."""

    def __init__(self, names: FrozenSet[str]):
        self.names = names
        self.asked: Dict[str, bool] = {}
        self.restores: Dict[str, bool] = {}       # asked by the pops of the sweeps alone
        self.decisions: List[Tuple[Callable[[FrozenSet[str]], bool], bool]] = []

    def __contains__(self, name) -> bool:
        answer = name in self.names
        self.asked[name] = answer
        return answer

    def decide(self, question: Callable[[FrozenSet[str]], bool]) -> bool:
        """A decision over the whole set (does this loop need the tape?): kept as a question,
        so only its answer has to agree, not each name it looked at."""
        answer = question(self.names)
        self.decisions.append((question, answer))
        return answer

    def restored(self, name: str) -> bool:
        """Asked by a sweep's pop of ``name`` (inside a loop or branch): every value is
        restored, a helper's records too (a pop the real plan leaves out is dropped later)."""
        answer = True
        self.restores[name] = answer
        return answer

    def same_answers(self, needed: FrozenSet[str]) -> bool:
        return self.dropped(needed) == frozenset()

    def dropped(self, needed: FrozenSet[str]) -> Optional[FrozenSet[str]]:
        """The names whose pops the real plan ``needed`` leaves out, where every other answer
        is the same (the sweeps written are then those it writes, less those pops: see
        ``reverse.drop_pops``); None where some other answer differs."""
        if not all((name in needed) == answer for name, answer in self.asked.items()) or \
                not all(question(needed) == answer for question, answer in self.decisions):
            return None
        dropped = set()
        for name, answer in self.restores.items():
            if (name in needed) != answer:
                if not answer:              # a pop the real plan adds
                    return None
                dropped.add(name)
        return frozenset(dropped)



@dataclass(frozen=True)
class SweepRecords:
    """What writing the sweeps found, from which ``reverse.tape_plan`` derives the tape plan:
    the primal names some adjoint reads, per helper call (id of its statement) the argument
    positions whose adjoints a sweep reads, and the sites differentiated again."""
    needed: FrozenSet[str]
    adjoint_reads: Mapping[int, FrozenSet[int]]
    site_records: FrozenSet[int]


@dataclass(frozen=True)
class SweepScope:
    """What one sweep follows, found before it is written (``sweeps.Sweeps``): ``relevant``,
    the active names whose adjoints lead to what it differentiates with respect to (None:
    every active one), and ``captures``: root -> (found flag, its gradient) for a name whose
    gradient is the adjoint of the version the site sees."""
    relevant: Optional[FrozenSet[str]] = None
    captures: Mapping[str, Tuple[str, str]] = field(default_factory=lambda: MappingProxyType({}))
    roots: FrozenSet[str] = frozenset()     # a site's sweep: the names it differentiates with respect to


@dataclass(frozen=True)
class SweepPlan:
    """A generated sweep function, as the code that calls it reads it."""
    name: str
    line: int                    # the site's line
    params: Tuple[str, ...]      # what it reads, in order (the tape's name among them if it pops)
    uses_tape: bool
    self_contained: bool         # recomputes what precedes the site from the arguments


@dataclass(frozen=True)
class FunctionFacts:
    """What every pass reads of the function itself (its signature, where and in which order
    names are defined, which names compound statements assign), found once by
    ``sites.function_facts`` before any pass runs."""
    fname: str
    filename: str
    line: int                                   # the def's line (errors without a node's own)
    params: Tuple[str, ...]
    kwonly: Tuple[str, ...]
    vararg: Optional[str]
    kwarg: Optional[str]
    stored: FrozenSet[str]                      # the parameters and every name assigned
    defined_line: Mapping[str, int]             # name -> the line of its first assignment
    def_order: Mapping[str, int]                # name -> rank of its first definition
    name_counts: Mapping[str, Tuple[int, int]]  # name -> (stores, loads)
    assigned_in_compounds: FrozenSet[str]       # names a top-level if/for/while/with assigns
    bound_before_compounds: FrozenSet[str]      # assigned at the top level before any compound
    # nested defs (lambdas) a top-level if/for/while/with makes: bound to None before it where a sweep
    # reads one (was: UnboundLocalError, a ``key=lambda ...`` of sorted in a branch not taken)
    defined_in_compounds: FrozenSet[str] = frozenset()

    def fail(self, node, message: str, construct: str) -> NoReturn:
        raise CompileError(message, self.filename, getattr(node, "lineno", self.line), construct)
