"""Reachability and liveness: which active names a statement's adjoint contributes to, which
adjoints a block may make nonzero, which compound statements record on the tape.
"""
from __future__ import annotations

from typing import Callable, Dict, FrozenSet, List, Optional, Sequence, Set

import gast

from .runtime import registry

from .analysis import Activity, Dependence, bind_arguments
from .ir import load, walk_nodes
from .sites import Site
from .plans import CallKind, FunctionFacts, Mode
from .templates import BINOP_OPS, UNARY_OPS


class Liveness:
    """Which adjoints may be nonzero, which compound statements need the tape, and which gradients
    are differentiated again.  Reads the function, its facts and activity; ``relevant`` (the
    names a sweep follows, None: every active one) and the tape plan's ``needed`` are passed
    by the sweep that asks.  ``site_inputs(stmt)``: what the sweep of a gradient differentiated
    again reads (the sweeps made so far; [] for any other statement)."""

    def __init__(self, fdef: gast.FunctionDef, facts: FunctionFacts, act: Activity, mode: Mode,
                 site_inputs: Callable[[gast.stmt], List[str]], depends_on_memo: Optional[Dict] = None):
        self.fdef = fdef
        self.facts = facts
        self.act = act
        self.mode = mode
        self.site_inputs = site_inputs
        # depends_on's fixed points, per set of seeds (shared by both generations of a build)
        self._depends_on_memo: Dict[FrozenSet[str], FrozenSet[str]] = \
            {} if depends_on_memo is None else depends_on_memo

    # --- reachability: which adjoints may be nonzero --------------------------------------------
    def operands(self, s: gast.Assign, relevant: Optional[Set[str]]) -> List[str]:
        """The active names whose adjoints the statement contributes to."""
        value = s.value
        names: List[str] = []
        if isinstance(value, gast.Name):
            names = [value.id]
        elif isinstance(value, gast.BinOp) and type(value.op) in BINOP_OPS:
            names = [n.id for n in (value.left, value.right) if isinstance(n, gast.Name)]
            if isinstance(value.right, gast.List):
                names += [e.id for e in value.right.elts if isinstance(e, gast.Name)]
            # ``a % b``: the remainder's rule has adjoints for both (d/db = -floor(a / b)); a computed
            # divisor's adjoint must flow on to what it was computed from
        elif isinstance(value, gast.UnaryOp) and type(value.op) in UNARY_OPS:
            names = [value.operand.id] if isinstance(value.operand, gast.Name) else []
        elif isinstance(value, (gast.Subscript, gast.Attribute)):
            names = [value.value.id] if isinstance(value.value, gast.Name) else []
        elif isinstance(value, (gast.Tuple, gast.List)):
            names = [e.id for e in value.elts if isinstance(e, gast.Name)]
        elif isinstance(value, gast.Dict):
            names = [v.id for v in value.values if isinstance(v, gast.Name)]
        elif isinstance(value, gast.Call):
            info = self.act.call_info(value)
            if info.kind == CallKind.CREATE:          # dlarray(x): its rule reads x's shape
                return [value.args[0].id] if value.args and isinstance(value.args[0], gast.Name) else []
            if info.kind in (CallKind.STOP, CallKind.NONDIFF, CallKind.PLAIN) or \
                    (info.kind == CallKind.METHOD and info.method in registry.NONDIFF_METHODS and
                     not self.act.user_receiver(info.receiver)):
                return []
            if info.kind == CallKind.SITE:
                names = self.site_inputs(s)
            elif isinstance(value.func, gast.Name) and value.func.id in self.act.active:
                names = [value.func.id] + [n.id for n in value.args if isinstance(n, gast.Name)]
            elif info.rule is not None:           # an op: only arguments it has a rule for
                call_node = value if info.kind == CallKind.OP else gast.Call(
                    func=value.func, args=[load(info.receiver)] + list(value.args), keywords=value.keywords)
                bound = bind_arguments(info.rule, call_node, self.facts.filename, getattr(s, "lineno", 0))
                names = []
                for p in info.rule.wrt:
                    arg = bound.get(p)
                    if isinstance(arg, gast.Name):
                        names.append(arg.id)
                    elif isinstance(arg, (gast.Tuple, gast.List)):
                        names += [e.id for e in arg.elts if isinstance(e, gast.Name)]
            else:
                names = [n.id for n in value.args if isinstance(n, gast.Name)]
                names += [n.value.id for n in value.args
                          if isinstance(n, gast.Starred) and isinstance(n.value, gast.Name)]
                names += [k.value.id for k in value.keywords if isinstance(k.value, gast.Name)]
                if info.receiver:
                    names.append(info.receiver)
        return [n for n in names if n in self.act.active and
                (relevant is None or n in relevant)]

    def reach(self, block: List, R: Set[str], relevant: Optional[Set[str]],
              stop: FrozenSet[str] = frozenset()) -> Set[str]:
        """The names whose adjoints the reverse of ``block`` reaches from ``R``; ``stop``: names whose
        bindings it does not go through (a site's x, where its sweep ends)."""
        R = set(R)
        for s in reversed(block):
            if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name):
                t = s.targets[0].id
                if t in R and t in self.act.active and t not in stop:
                    R |= set(self.operands(s, relevant))
            elif self.stored_field(s, R) is not None:      # obj.name = v: v reaches obj's adjoint
                R.add(s.value.id)
            elif isinstance(s, gast.If):
                R = self.reach(s.body, R, relevant, stop) | self.reach(s.orelse, R, relevant, stop)
            elif isinstance(s, gast.With):
                R = self.reach(s.body, R, relevant, stop)
            elif isinstance(s, (gast.For, gast.While)):
                R = self.loop_reach(s, R, relevant, stop)
        return R

    def loop_reach(self, loop, R: Set[str], relevant: Optional[Set[str]],
                   stop: FrozenSet[str] = frozenset()) -> Set[str]:
        current = set(R)
        while True:
            after = current | self.reach(loop.body, current, relevant, stop)
            if after == current:
                return current
            current = after

    def touched(self, block: List, R: Set[str], relevant: Optional[Set[str]]) -> Set[str]:
        """Adjoints a compound statement's reverse may write."""
        R_all = set(R)
        for _ in range(3):
            R_all |= self.reach(block, R_all, relevant)
        names = set()
        for n in walk_nodes(gast.Module(body=block, type_ignores=[])):
            if isinstance(n, gast.Assign) and isinstance(n.targets[0], gast.Name):
                t = n.targets[0].id
                if t in R_all and t in self.act.active:
                    names.add(t)
                    names |= set(self.operands(n, relevant))
            obj = self.stored_field(n, R_all)
            if obj is not None:                 # its reverse reads obj's adjoint and adds to v's
                names |= {obj, n.value.id}
        return names

    def stored_field(self, s, R: Set[str]):
        """For ``obj.name = v`` (v active, obj reached): obj's name, else None."""
        if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Attribute):
            obj = s.targets[0].value
            if isinstance(obj, gast.Name) and obj.id in R and isinstance(s.value, gast.Name) and \
                    s.value.id in self.act.active:
                return obj.id
        return None

    # --- the sweeps -----------------------------------------------------------------------------
    def depends_on(self, names: Set[str]) -> Set[str]:
        """Names whose values depend on ``names`` (only their adjoints lead to those names)."""
        seeds = frozenset(n for n in names if n in self.act.active)
        # the same for both generations of build() (they do not change the function): the
        # fixed point over the whole function is found once per set of seeds
        memo = self._depends_on_memo
        flow = memo.get(seeds)
        if flow is None:
            flow = memo[seeds] = frozenset(Dependence(self.fdef, self.act, set(seeds)).active)
        return set(flow & self.act.active)

    def needs_tape(self, s, needed: FrozenSet[str]) -> bool:
        """Does the adjoint of this compound statement do anything (contribute or restore)?
        ``needed``: the tape plan's (the primal values some adjoint reads)."""
        for n in walk_nodes(s):
            if isinstance(n, gast.Assign) and isinstance(n.targets[0], gast.Name):
                t = n.targets[0].id
                if t in self.act.active or t in needed:
                    return True
            if isinstance(n, gast.Assign) and isinstance(n.targets[0], gast.Attribute) and \
                    isinstance(n.targets[0].value, gast.Name) and n.targets[0].value.id in self.act.active:
                return True             # obj.name = v: moves obj's adjoint of that field
            if isinstance(n, gast.For) and n.target.id in needed:
                return True
        return False

    def cond_on_tape(self, s: gast.If, depth: int) -> bool:
        """Is the branch taken recorded (True) or read from a name that never changes?"""
        test = s.test
        if isinstance(test, gast.Constant):
            return False
        if depth > 0 or test.id in self.facts.assigned_in_compounds:
            return True
        memo = self.__dict__.setdefault("_truth_memo", {})
        if test.id not in memo:
            memo[test.id] = self._runs_user_truth(test)
        return memo[test.id]

    def _runs_user_truth(self, test: gast.Name, seen: FrozenSet[str] = frozenset()) -> bool:
        """Whether testing ``test`` may run a user's ``__bool__``/``__len__`` (a global's, a closure value's or
        an argument's object of a user's class, a name bound to something other than a comparison or a
        constant): the branch taken is recorded then, not tested again by the adjoint (was: ``if flag:`` ran
        Flag.__bool__ twice, its side effects twice, and a test that changes gave the adjoint another branch,
        red2_56 W5)."""
        from .operand_checks import truth_runs_user_code
        name = test.id
        if name in seen:
            return True
        if name not in self.facts.stored:
            try:
                value = self.act.resolver.resolve(test)
            except Exception:
                return True
            return truth_runs_user_code(type(value))
        kind = self.act.kinds.get(name)
        if name in self.facts.params or name in self.facts.kwonly:
            cls = kind[1] if isinstance(kind, tuple) and len(kind) > 1 and kind[0] == "obj" else None
            return isinstance(cls, type) and truth_runs_user_code(cls)
        plain = (gast.Compare, gast.BoolOp, gast.Constant)
        return any(isinstance(n, gast.Assign) and any(isinstance(t, gast.Name) and t.id == name for t in n.targets)
                   and not (isinstance(n.value, plain) or isinstance(n.value, gast.UnaryOp) and
                            isinstance(n.value.op, gast.Not) or isinstance(n.value, gast.Name) and
                            not self._runs_user_truth(n.value, seen | {name}))
                   for n in walk_nodes(self.fdef))

    def higher_order_needed(self, site: Site, later: List[Site], others: Sequence[Site] = ()) -> bool:
        """Does a later sweep (or the caller's, for a helper) differentiate this site's result?
        ``others``: every site of the function; one in a loop around this site (this one too) runs
        again after it in the next pass, so its y reached from this result through the loop's body
        (``g = dlgradient(np.sum(g), x)`` in a loop: nth derivatives) differentiates it (was: not a
        later sweep, so the next pass's gradient of it was a silent zero)."""
        target = site.stmt.targets[0].id
        if site.in_loop:
            for _block, _index, parent, _depth in site.frames:
                if not isinstance(parent, (gast.For, gast.While)):
                    continue
                inside = {id(n) for n in walk_nodes(parent)}
                for other in others:
                    if id(other.stmt) not in inside:
                        continue
                    # (its sweep ends at its x: a new value of x bound from this result, ``w = w - lr * g``
                    # of a training loop, is not differentiated through)
                    stop = frozenset(x.id for x in other.xs if isinstance(x, gast.Name))
                    if target in self.loop_reach(parent, {other.y}, None, stop):
                        return True
        if self.mode == Mode.VJP:
            ret = self.fdef.body[-1]
            if isinstance(ret.value, gast.Name) and \
                    target in self.reach(self.fdef.body[:-1], {ret.value.id}, None):
                return True
        for other in later:
            R = {other.y}
            for block, index, parent, depth in reversed(other.frames):
                R = self.reach(block[:index], R, None)
            if target in R:
                return True
        return False
