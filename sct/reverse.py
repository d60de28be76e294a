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

import ast
import copy
from typing import Any, Dict, List, Optional, Set, Tuple

import gast
import operator

from .runtime import registry

from .analysis import Activity, CallInfo, Resolver, bind_arguments, index_value
from .emit import comment
from .errors import CompileError
from .ir import assign, attr, call, const, load, loaded_names, store, substitute, expr_stmt, walk
from .naming import Namer
from .parse import source_line
from .calls import CallLowering, VjpCall  # noqa: F401  (VjpCall: re-exported)
from .sites import Site, SiteFinding, SiteKind, _in_order, _roots
from .templates import (BINOP_OPS, SCALAR_SAFE_OPS, UNARY_OPS, ZERO, _function, _is_comment,  # noqa: F401
                        _reach, _strip_unbroadcast, assign_pair, instantiate_template, simplify)


                                        # where no sweep differentiates through it (entry mode)


class Generated:
    """The functions generated for one user function."""

    def __init__(self):
        self.functions: List[gast.FunctionDef] = []
        self.entry: str = ""
        self.fwd: Optional[str] = None
        self.bwd: Optional[str] = None


class Transformer(SiteFinding, CallLowering):
    def __init__(self, fn, fdef: gast.FunctionDef, filename: str, activity: Activity,
                 resolver: Resolver, namer: Namer, mode: str, numpy_name: str,
                 rt_names: Dict[int, str], rt_name: str = "rt"):
        self.rt_name = rt_name
        self.fn = fn
        self.fdef = fdef
        self.filename = filename
        self.act = activity
        self.resolver = resolver
        self.namer = namer
        self.mode = mode                   # "entry" or "vjp"
        self.np = numpy_name
        self.rt_names = rt_names
        self.params = [a.id for a in fdef.args.args]
        self.kwonly = [a.id for a in fdef.args.kwonlyargs]
        self.vararg = fdef.args.vararg.id if fdef.args.vararg is not None else None
        self.kwarg = fdef.args.kwarg.id if fdef.args.kwarg is not None else None
        self.adjoint: Dict[str, str] = {}
        self._primal_by_adjoint: Dict[str, str] = {}
        self._primal_by_adjoint_of: Optional[Dict[str, str]] = None    # the adjoint map it inverts
        self.tape = namer.fresh("tape")
        self.needed: Set[str] = set()      # primal names some adjoint reads
        self.uses_tape = False
        self.forward_names: Set[str] = set(self.params) | set(self.kwonly) | \
            {n for n in (self.vararg, self.kwarg) if n}
        for n in gast.walk(fdef):
            if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store):
                self.forward_names.add(n.id)
        self.counters: Dict[int, str] = {}
        self.site_calls: Dict[int, str] = {}
        self.defined_line: Dict[str, int] = {}
        self.def_order: Dict[str, int] = {p: i for i, p in enumerate(self.params)}
        for n in _in_order(fdef.body):
            if isinstance(n, gast.Assign) and isinstance(n.targets[0], gast.Name):
                self.defined_line.setdefault(n.targets[0].id, getattr(n, "lineno", fdef.lineno))
            for m in gast.walk(n) if isinstance(n, gast.Assign) else ():
                if isinstance(m, gast.Name) and isinstance(m.ctx, gast.Store):
                    self.def_order.setdefault(m.id, len(self.def_order))
        self.fname = fdef.name
        self.relevant: Optional[Set[str]] = None
        self.effects_start = namer.fresh("effects_start")   # where recomputations replay from
        # entry mode: a helper call no sweep differentiates through runs its code as dlfeval
        # would (no pair, no residuals); off where the entry is differentiated again (jvp)
        self.primal_calls = mode == "entry"
        self._in_forward = False

    # --- helpers --------------------------------------------------------------------------
    def fail(self, node, message: str, construct: str):
        raise CompileError(message, self.filename, getattr(node, "lineno", self.fdef.lineno), construct)

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
        snapshot = (set(self.namer.taken), dict(self.adjoint), dict(self.counters),
                    set(self.forward_names))
        self.needed_final = set(self.forward_names)
        self.generate()
        needed = set(self.needed)
        (self.namer.taken, self.adjoint, self.counters, self.forward_names) = snapshot
        self.needed = set()
        self.uses_tape = False
        self.needed_final = needed
        return self.generate()

    def generate(self) -> Generated:
        out = Generated()
        self.site_calls = {}
        self.nested_counters: Set[str] = set()
        self.vjp_calls = {}
        self.site_records = set()
        self.sweep_params = {}
        self.residuals = []
        sites = self.find_sites()
        for k, site in enumerate(sites):
            self.sites_so_far = sites[:k]
            name = self.namer.fresh(f"{self.fname}_dlgradient_line{site.line}")
            self.site_calls[id(site.stmt)] = name
            target = site.stmt.targets[0].id
            if site.options.enable_higher_derivatives and target in self.act.active and \
                    self.higher_order_needed(site, sites[k + 1:]):
                if site.in_loop:
                    self.fail(site.stmt, "a gradient computed inside a loop cannot be differentiated "
                              "again yet: compute it after the loop, or pass "
                              "EnableHigherDerivatives=False", "dlgradient")
                self.check_arguments_kept(site)
                self.site_records.add(id(site.stmt))
            contained = id(site.stmt) in self.site_records
            self.seed_name = self.namer.fresh("seed")
            body, result = self.site_sweep(site, contained)
            out.functions.extend(self.sweep_function(name, body, result, site, contained))
        if self.mode == "vjp":
            bwd = self.bwd_function(self.vjp_sweep(self.fdef.body[-1]))
        forward = self.forward_function()
        out.functions.insert(0, forward)
        out.entry = forward.name
        if self.mode == "vjp":
            out.fwd = forward.name
            out.functions.insert(1, bwd)
            out.bwd = bwd.name
        return out

    def check_arguments_kept(self, site: Site):
        """A gradient differentiated again is recomputed from the function's arguments: an
        argument reassigned before the site would be read at its new value."""
        for block, index, _, _ in site.frames:
            for st in block[:index]:
                for n in gast.walk(st):
                    if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store) and \
                            n.id in self.params:
                        self.fail(site.stmt, f"the gradient on line {site.line} is differentiated "
                                  f"again, and the argument {n.id!r} is reassigned before it (line "
                                  f"{getattr(st, 'lineno', '?')}): sct recomputes that gradient from "
                                  f"the arguments. Give the new value another name (e.g. "
                                  f"{n.id}2 = ...)", "dlgradient")

    def higher_order_needed(self, site: Site, later: List[Site]) -> bool:
        """Does a later sweep (or the caller's, for a helper) differentiate this site's result?"""
        target = site.stmt.targets[0].id
        self.relevant = None
        if self.mode == "vjp":
            ret = self.fdef.body[-1]
            if isinstance(ret.value, gast.Name) and target in self.reach(self.fdef.body[:-1], {ret.value.id}):
                return True
        for other in later:
            R = {other.y}
            for block, index, parent, depth in reversed(other.frames):
                R = self.reach(block[:index], R)
            if target in R:
                return True
        return False

    # --- reachability: which adjoints may be nonzero --------------------------------------------
    def operands(self, s: gast.Assign) -> List[str]:
        """The active names whose adjoints the statement contributes to."""
        value = s.value
        names: List[str] = []
        if isinstance(value, gast.Name):
            names = [value.id]
        elif isinstance(value, gast.BinOp) and type(value.op) in BINOP_OPS:
            names = [n.id for n in (value.left, value.right) if isinstance(n, gast.Name)]
            if isinstance(value.right, gast.List):
                names += [e.id for e in value.right.elts if isinstance(e, gast.Name)]
            if isinstance(value.op, gast.Mod):
                names = names[:1]
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
            if info.kind in ("stop", "create", "nondiff", "plain") or \
                    (info.kind == "method" and info.method in registry.NONDIFF_METHODS):
                return []
            if info.kind == "site":
                names = self.site_inputs(s)
            elif isinstance(value.func, gast.Name) and value.func.id in self.act.active:
                names = [value.func.id] + [n.id for n in value.args if isinstance(n, gast.Name)]
            elif info.rule is not None:           # an op: only arguments it has a rule for
                call_node = value if info.kind == "op" else gast.Call(
                    func=value.func, args=[load(info.receiver)] + list(value.args), keywords=value.keywords)
                bound = bind_arguments(info.rule, call_node, self.filename, getattr(s, "lineno", 0))
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
                (self.relevant is None or n in self.relevant)]

    def site_inputs(self, s) -> List[str]:
        name = self.site_calls.get(id(s))
        if name is None or id(s) not in self.site_records:
            return []
        return [p for p in self.sweep_params.get(name, []) if p != self.tape]

    def reach(self, block: List, R: Set[str]) -> Set[str]:
        R = set(R)
        for s in reversed(block):
            if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name):
                t = s.targets[0].id
                if t in R and t in self.act.active:
                    R |= set(self.operands(s))
            elif isinstance(s, gast.If):
                R = self.reach(s.body, R) | self.reach(s.orelse, R)
            elif isinstance(s, gast.With):
                R = self.reach(s.body, R)
            elif isinstance(s, (gast.For, gast.While)):
                R = self.loop_reach(s, R)
        return R

    def loop_reach(self, loop, R: Set[str]) -> Set[str]:
        current = set(R)
        while True:
            after = current | self.reach(loop.body, current)
            if after == current:
                return current
            current = after

    # --- adjoint of a statement list --------------------------------------------------------------
    def reverse_block(self, block: List, R: Set[str], depth: int, state) -> Tuple[List, Set[str]]:
        out: List = []
        last_line = None
        for s in reversed(block):
            stmts, R = self.reverse_stmt(s, R, depth, state)
            if stmts:
                line = getattr(s, "lineno", None)
                if line is not None and line != last_line and not isinstance(s, (gast.If, gast.For, gast.While, gast.With)):
                    out.append(self.line_comment(line, "adjoint of"))
                    last_line = line
                out.extend(stmts)
        return out, R

    def line_comment(self, line: int, prefix: str):
        text = source_line(self.filename, line)
        head = f"{prefix} line {line}" if prefix else f"line {line}"
        return comment(f"{head}: {text}" if text else head)

    def reverse_stmt(self, s, R: Set[str], depth: int, state) -> Tuple[List, Set[str]]:
        if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name):
            return self.reverse_assign(s, R, depth, state)
        if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Attribute):
            return self.reverse_attribute_store(s, R, depth, state)
        if isinstance(s, gast.If):
            return self.reverse_if(s, R, depth, state)
        if isinstance(s, gast.With):           # ran once: its body's adjoint, in place
            pre = self.init_adjoints(self.touched(s.body, R), state)
            body, R = self.reverse_block(s.body, R, depth + 1, state)
            return pre + body, R
        if isinstance(s, (gast.For, gast.While)):
            return self.reverse_loop(s, R, depth, state)
        return [], R

    def pop(self, name: str) -> gast.Assign:
        self.uses_tape = True
        return assign(name, call(attr(load(self.tape), "pop")))

    def restores(self, name: str, depth: int) -> bool:
        return depth > 0 and name in self.needed_final

    def reverse_assign(self, s: gast.Assign, R: Set[str], depth: int, state) -> Tuple[List, Set[str]]:
        t = s.targets[0].id
        out: List = []
        pops: List = []
        if self.uses_vjp(s):                 # undo in the reverse order of the records
            parts = self.vjp_parts(s)
            pops = [self.pop(n) for n in (parts.bwd, parts.residuals) if self.restores(n, depth)]
        if self.restores(t, depth):
            pops.append(self.pop(t))
        reached = t in R and t in self.act.active and (depth > 0 or t in state["initialized"])
        capture = self.capture(t, reached)
        if not reached:
            return capture + pops, R
        ops = self.operands(s)
        g = self.d(t)
        # The adjoint of t's earlier value starts at zero (inside loops and branches).
        reset = [assign(g, self.rt("ZERO"))] if depth > 0 else []
        if reset:             # after the loop or branch, t's adjoint may be the zero marker
            state.setdefault("maybe_zero", set()).add(t)
        if depth > 0 and t in loaded_names(s.value) and self.uses_vjp(s):
            # x = helper(x): the adjoint reads the current records (popped after it) and
            # writes the old x's adjoint, which starts at zero
            g_out = self.namer.fresh(g + "_out")
            parts = self.contributions(s, g_out, t, state, depth)
            out.extend(capture)
            out.append(assign(g_out, load(g)))
            out += reset + self.unless_zero(g_out, parts, depth) + pops
            self.note_reads(out)
            return out, R | set(ops)
        if depth > 0 and t in loaded_names(s.value):
            # x = f(x): the rule needs the old x, so restore it first
            g_out = self.namer.fresh(g + "_out")
            ans = self.namer.fresh(t + "_new")
            keep_new = assign(ans, load(t))
            parts = self.contributions(s, g_out, ans, state, depth)
            out.extend(capture)
            out.append(assign(g_out, load(g)))
            if ans in {n for st in parts for n in loaded_names(st)}:
                out.append(keep_new)
            out += pops + reset + self.unless_zero(g_out, parts, depth)
            self.note_reads(out)
            return out, R | set(ops)
        out.extend(capture)
        guard_depth = depth
        if depth == 0 and t in state.get("maybe_zero", ()):
            # its adjoint may still be the zero marker: guard, and start operands at zero
            guard_depth = 1
            out.extend(self.init_adjoints(set(ops), state))
        out.extend(self.unless_zero(g, self.contributions(s, g, t, state, depth), guard_depth))
        out += pops + reset
        self.note_reads(out)
        return out, ((R - {t}) | set(ops)) if depth == 0 else (R | set(ops))

    def capture(self, t: str, reached: bool) -> List:
        """For a name a site differentiates with respect to: keep the adjoint of the version
        the site sees, the first time the sweep undoes an assignment of it."""
        if t not in getattr(self, "captures", {}):
            return []
        found, grad = self.captures[t]
        value = load(self.d(t)) if reached else ZERO
        return [gast.If(test=gast.UnaryOp(op=gast.Not(), operand=load(found)),
                        body=[assign(grad, value), assign(found, const(True))], orelse=[])]

    def unless_zero(self, g: str, stmts: List, depth: int) -> List:
        """Inside loops and branches an adjoint may still be the zero marker: skip its rule then
        (every rule is linear in the adjoint, so skipping is exact, and cheaper than zeros)."""
        if depth == 0 or not stmts:
            return stmts
        test = gast.Compare(left=load(g), ops=[gast.IsNot()], comparators=[self.rt("ZERO")])
        return [gast.If(test=test, body=stmts, orelse=[])]

    def reverse_attribute_store(self, s: gast.Assign, R: Set[str], depth: int, state):
        """``obj.name = v``: v's adjoint is obj's adjoint of that field, which is then spent."""
        target = s.targets[0]
        obj, value = target.value, s.value
        if not isinstance(obj, gast.Name) or obj.id not in R or \
                not (isinstance(value, gast.Name) and value.id in self.act.active):
            return [], R
        d_obj = self.d(obj.id)
        self.init_adjoints({obj.id}, state)
        state.setdefault("maybe_zero", set()).add(value.id)    # the field's adjoint may be the marker
        out = [self.accumulate(value.id, call(self.rt("getattr_or_zero"), [load(d_obj), const(target.attr)]),
                               state, depth),
               assign(d_obj, call(self.rt("drop_attribute"), [load(d_obj), const(target.attr)]))]
        return out, R | {value.id}

    def note_reads(self, stmts: List):
        for st in stmts:
            for n in loaded_names(st):
                if n in self.forward_names:
                    self.needed.add(n)

    def reverse_if(self, s: gast.If, R: Set[str], depth: int, state) -> Tuple[List, Set[str]]:
        touched = self.touched(s.body + s.orelse, R)
        pre = self.init_adjoints(touched, state)
        body, R1 = self.reverse_block(s.body, R, depth + 1, state)
        orelse, R2 = self.reverse_block(s.orelse, R, depth + 1, state)
        out = list(pre)
        if not self.needs_tape(s):
            return out, R
        if not body and not orelse:
            if self.cond_on_tape(s, depth):
                self.uses_tape = True
                out.append(expr_stmt(call(attr(load(self.tape), "pop"))))
            return out, R
        test = s.test
        if self.cond_on_tape(s, depth):
            cond = self.namer.fresh("cond_taken")
            out.append(self.pop(cond))
            test = load(cond)
        else:
            self.note_reads([gast.Expr(value=test)])
        out.append(self.line_comment(s.lineno, "adjoint of the branch on"))
        node = gast.If(test=copy.deepcopy(test), body=body or [gast.Pass()], orelse=orelse)
        out.append(node)
        return out, R1 | R2

    def cond_on_tape(self, s: gast.If, depth: int) -> bool:
        """Is the branch taken recorded (True) or read from a name that never changes?"""
        test = s.test
        if isinstance(test, gast.Constant):
            return False
        return depth > 0 or test.id in self.assigned_in_compounds()

    def needs_tape(self, s) -> bool:
        """Does the adjoint of this compound statement do anything (contribute or restore)?"""
        for n in gast.walk(s):
            if isinstance(n, gast.Assign) and isinstance(n.targets[0], gast.Name):
                t = n.targets[0].id
                if t in self.act.active or t in self.needed_final:
                    return True
            if isinstance(n, gast.For) and n.target.id in self.needed_final:
                return True
        return False

    def reverse_loop(self, s, R: Set[str], depth: int, state) -> Tuple[List, Set[str]]:
        if not self.needs_tape(s):
            return [], R
        R_in = self.loop_reach(s, R)
        touched = self.touched(s.body, R_in)
        pre = self.init_adjoints(touched, state)
        body, _ = self.reverse_block(s.body, R_in, depth + 1, state)
        n = self.counter(s)
        out = list(pre)
        if isinstance(s, gast.For):
            target = s.target.id
            if target in self.needed_final:
                body.append(self.pop(target))
        if not body and depth == 0:      # nothing in the loop reaches the gradient
            return out, R_in
        if depth > 0:
            out.append(self.pop(n))
        else:
            self.needed.add(n)
        out.append(self.line_comment(s.lineno, "adjoint of the loop on"))
        loop = gast.For(target=store("_"), iter=call("range", [load(n)]), body=body or [gast.Pass()],
                        orelse=[], type_comment=None)
        out.append(loop)
        return out, R_in

    def reverse_earlier_iterations(self, s, R: Set[str], depth: int, state) -> Tuple[List, Set[str]]:
        """For a site inside loop ``s``: undo the current iteration's start, then the
        iterations that completed before it (their count is the counter minus one)."""
        if not self.needs_tape(s):
            return [], R
        out: List = []
        if isinstance(s, gast.For) and s.target.id in self.needed_final:
            out.append(self.pop(s.target.id))
        R_in = self.loop_reach(s, R)
        out.extend(self.init_adjoints(self.touched(s.body, R_in), state))
        body, _ = self.reverse_block(s.body, R_in, depth + 1, state)
        if isinstance(s, gast.For) and s.target.id in self.needed_final:
            body.append(self.pop(s.target.id))
        n = self.counter(s)
        self.needed.add(n)
        out.append(self.line_comment(s.lineno, "adjoint of the earlier iterations of the loop on"))
        done = gast.BinOp(left=load(n), op=gast.Sub(), right=const(1))
        out.append(gast.For(target=store("_"), iter=call("range", [done]), body=body or [gast.Pass()],
                            orelse=[], type_comment=None))
        return out, R_in

    def touched(self, block: List, R: Set[str]) -> Set[str]:
        """Adjoints a compound statement's reverse may write."""
        R_all = set(R)
        for _ in range(3):
            R_all |= self.reach(block, R_all)
        names = set()
        for n in gast.walk(gast.Module(body=block, type_ignores=[])):
            if isinstance(n, gast.Assign) and isinstance(n.targets[0], gast.Name):
                t = n.targets[0].id
                if t in R_all and t in self.act.active:
                    names.add(t)
                    names |= set(self.operands(n))
        return names

    def init_adjoints(self, names: Set[str], state) -> List:
        out = []
        for name in sorted(names, key=self.order_key):
            if name not in state["initialized"]:
                out.append(assign(self.d(name), self.rt("ZERO")))
                state.setdefault("maybe_zero", set()).add(name)
                state["initialized"].add(name)
        return out

    def order_key(self, name: str):
        return (self.def_order.get(name, 10**6), name)

    # --- contributions ---------------------------------------------------------------------------
    def accumulate(self, name: str, contribution, state, depth: int) -> gast.Assign:
        dn = self.d(name)
        if name not in state["initialized"] and depth == 0:
            state["initialized"].add(name)
            return assign(dn, contribution)
        state["initialized"].add(name)
        may_be_marker = isinstance(contribution, gast.Subscript) or (
            isinstance(contribution, gast.Call) and isinstance(contribution.func, gast.Attribute) and
            contribution.func.attr in ("getitem_or_zero", "getattr_or_zero", "field_adjoint",
                                       "starred_adjoint"))
        if self.is_array(name) and not may_be_marker:
            # (an adjoint read from a container or a helper's results may be the zero marker:
            # add_grad keeps it the marker, where marker + marker would be a plain 0.0)
            return assign(dn, gast.BinOp(left=load(dn), op=gast.Add(), right=contribution))
        return assign(dn, call(self.rt("add_grad"), [load(dn), contribution]))

    def rt(self, name: str):
        return attr(load(self.rt_name), name)

    def contributions(self, s: gast.Assign, g: str, ans: str, state, depth: int) -> List:
        value = s.value
        self.pending_pre = []
        pieces: List[Tuple[str, Any]] = []       # (operand name, contribution expr)
        if isinstance(value, gast.Name):
            pieces.append((value.id, load(g)))
        elif isinstance(value, (gast.BinOp, gast.UnaryOp)) and \
                type(value.op) not in BINOP_OPS and type(value.op) not in UNARY_OPS:
            pass      # `not`, `~`, `//`, bit operations: boolean or piecewise-constant results
        elif isinstance(value, gast.BinOp):
            if value.op.__class__ is gast.Add and self.is_list(value):
                left, right = value.left, value.right
                if isinstance(left, gast.Name) and left.id in self.act.active:
                    pieces.append((left.id, call(self.rt("list_head"), [load(g), load(left.id)])))
                if isinstance(right, gast.Name) and right.id in self.act.active:
                    pieces.append((right.id, call(self.rt("list_tail"), [load(g), left])))
                if isinstance(right, gast.List):      # xs + [v], from xs.append(v)
                    tail = call(self.rt("list_tail"), [load(g), left])
                    for i, e in enumerate(right.elts):
                        if isinstance(e, gast.Name):
                            pieces.append((e.id, call(self.rt("getitem_or_zero"), [tail, const(i)])))
            elif value.op.__class__ is gast.Add and not all(
                    isinstance(o, gast.Constant) or isinstance(o, gast.Name) and self.is_array(o.id)
                    for o in (value.left, value.right)):
                # operands not known to be arrays may be lists or tuples (concatenated): the
                # runtime tells (``l[:0] + m``: m's adjoint is its part of the list adjoint)
                left, right = value.left, value.right
                for side, o in (("concat_head", left), ("concat_tail", right)):
                    if isinstance(o, gast.Name) and o.id in self.act.active:
                        pieces.append((o.id, call(self.rt(side), [load(g), left, right])))
            elif value.op.__class__ is gast.Mult and self.may_repeat(value):
                # ``l * 2``: each item's adjoint is the sum over its copies (a number for an
                # array operand: the count is a constant int, never traced)
                for seq, n in ((value.left, value.right), (value.right, value.left)):
                    if isinstance(seq, gast.Name) and seq.id in self.act.active:
                        pieces.append((seq.id, call(self.rt("repeat_adjoint"), [load(g), seq, n])))
            else:
                pieces += self.operator_pieces(BINOP_OPS[type(value.op)], [value.left, value.right], g, ans, s)
        elif isinstance(value, gast.UnaryOp):
            pieces += self.operator_pieces(UNARY_OPS[type(value.op)], [value.operand], g, ans, s)
        elif isinstance(value, gast.Subscript):
            pieces += self.operator_pieces(operator.getitem, [value.value, index_value(value.slice, self.rt_name)],
                                           g, ans, s)
        elif isinstance(value, gast.Attribute):
            base = value.value
            op = registry.ATTRIBUTES.get(value.attr)
            if op is not None and self.is_array(base.id):
                pieces += self.rule_pieces(registry.lookup(op), self.bind(registry.lookup(op), [base], []),
                                           g, ans, s)
            elif op is not None and base.id not in self.act.kinds:
                # an array attribute or an object's field: decided when it runs
                pieces.append((base.id, call(self.rt("attribute_adjoint_any"),
                                             [load(g), base, const(value.attr)])))
            else:
                pieces.append((base.id, call(self.rt("attribute_adjoint"),
                                             [load(g), base, const(value.attr)])))
        elif isinstance(value, (gast.Tuple, gast.List)):
            for i, e in enumerate(value.elts):
                if isinstance(e, gast.Name):
                    pieces.append((e.id, call(self.rt("item_adjoint"), [load(g), const(i), e])))
        elif isinstance(value, gast.Dict):
            for k, v in zip(value.keys, value.values):
                if isinstance(v, gast.Name):
                    pieces.append((v.id, call(self.rt("item_adjoint"), [load(g), k, v])))
        elif isinstance(value, gast.Call):
            pieces += self.call_pieces(s, value, g, ans)
        out = list(self.pending_pre)
        # a generated adjoint may give the zero marker for an argument it did not reach
        marker_possible = isinstance(value, gast.Call) and bool(self.pending_pre) and \
            self.act.call_info(value).kind in ("function", "method", "site")
        for name, contribution in pieces:
            if name not in self.act.active or (self.relevant is not None and name not in self.relevant):
                continue
            contribution = self.project_realness(name, contribution)
            out.append(self.accumulate(name, contribution, state, depth))
            if marker_possible:
                state.setdefault("maybe_zero", set()).add(name)
        return out

    def operator_pieces(self, op, operands, g: str, ans: str, s):
        rule = registry.lookup(op)
        if rule is None:
            self.fail(s, f"no derivative rule for the operator {op.__name__}; add one with "
                      "@sct.defrule (see help(sct.defrule))", "operator")
        return self.rule_pieces(rule, self.bind(rule, operands, []), g, ans, s)

    def may_repeat(self, value: gast.BinOp) -> bool:
        """May ``a * b`` repeat a list or tuple (with a count that is never traced)?"""
        operands = (value.left, value.right)
        if any(isinstance(o, gast.Name) and o.id in self.act.active and
               not (o.id in self.act.lists or self.act.kinds.get(o.id, ("",))[0] == "seq")
               for o in operands) and not any(isinstance(o, gast.Constant) and type(o.value) is int
                                              for o in operands):
            return False          # a traced factor: ordinary multiplication
        if self.is_list(value) or any(isinstance(o, gast.Name) and
                                      self.act.kinds.get(o.id, ("",))[0] == "seq" for o in operands):
            return True
        return any(isinstance(o, gast.Constant) and type(o.value) is int for o in operands) and \
            not all(isinstance(o, gast.Constant) or isinstance(o, gast.Name) and self.is_array(o.id)
                    for o in operands)

    def is_list(self, value: gast.BinOp) -> bool:
        return any(isinstance(o, (gast.Name)) and o.id in self.act.lists or isinstance(o, gast.List)
                   for o in (value.left, value.right))

    def bind(self, rule, args, keywords):
        node = gast.Call(func=load("_"), args=list(args), keywords=list(keywords))
        return bind_arguments(rule, node, self.filename, getattr(node, "lineno", 0))

    def call_pieces(self, s, value: gast.Call, g: str, ans: str):
        info: CallInfo = self.act.call_info(value)
        if info.kind == "op":
            for a in value.args:
                if isinstance(a, gast.Starred):
                    self.fail(s, f"*args in a call to {info.rule.name}", "starred argument")
            bound = bind_arguments(info.rule, value, self.filename, s.lineno)
            return self.rule_pieces(info.rule, bound, g, ans, s)
        if info.kind == "method" and info.rule is not None:
            bound = self.bind(info.rule, [load(info.receiver)] + list(value.args), value.keywords)
            return self.rule_pieces(info.rule, bound, g, ans, s)
        if info.kind == "site" and id(s) not in self.site_records:
            return []
        if info.kind in ("function", "method", "site"):
            parts = self.vjp_parts(s)
            grads = self.namer.fresh(f"d_{s.targets[0].id}_args")
            self.pending_pre.append(assign(grads, call(parts.bwd, [load(parts.residuals), load(g)])))
            if any(isinstance(a, gast.Starred) for a in parts.args):
                # f(*xs): the adjoints of xs are a run of the results, found when it runs
                values = [a.value if isinstance(a, gast.Starred) else a for a in parts.args]
                flags = self.starred_flags(parts.args)
                return [(v.id, call(self.rt("starred_adjoint"), [load(grads), const(i), flags] + values))
                        for i, v in enumerate(values) if isinstance(v, gast.Name)]
            return [(a.id, gast.Subscript(value=load(grads), slice=const(i), ctx=gast.Load()))
                    for i, a in enumerate(parts.args) if isinstance(a, gast.Name)]
        if info.kind == "plain" and info.obj is getattr:
            self.fail(s, "getattr(obj, name) with a name known only when it runs, on an object holding "
                      "traced values: sct follows attributes it can name; write obj.attribute (or "
                      "getattr with a string literal), or keep such values in a dict", "getattr")
        if info.kind == "plain":
            self.fail(s, f"no derivative rule for {self.describe(value.func)}: it is not a Python "
                      "function sct can read, and the runtime has no rule for it. Add one with "
                      "@sct.defrule (see help(sct.defrule)), use numpy functions that have rules, or "
                      "wrap its input with extractdata if it must be a constant", "call")
        return []

    def describe(self, func) -> str:
        from .emit import expr_source
        return expr_source(func)

    def rule_pieces(self, rule, bound: Dict[str, Any], g: str, ans: str, s):
        if rule is None:
            self.fail(s, "no derivative rule for this operation; add one with @sct.defrule "
                      "(see help(sct.defrule))", "operation")
        pieces = []
        templates = rule.templates()
        globals_ = rule.fn.__globals__
        for param in rule.wrt:
            arg = bound.get(param)
            if not isinstance(arg, gast.Name) or arg.id not in self.act.active:
                if isinstance(arg, (gast.Tuple, gast.List)) and any(
                        isinstance(e, gast.Name) and e.id in self.act.active for e in arg.elts):
                    expr = self.instantiate(templates[param], rule, bound, g, ans, globals_)
                    tmp = self.namer.fresh(f"d_{s.targets[0].id}_{param}")
                    self.pending_pre.append(assign(tmp, expr))
                    for i, e in enumerate(arg.elts):
                        if isinstance(e, gast.Name):
                            pieces.append((e.id, call(self.rt("getitem_or_zero"), [load(tmp), const(i)])))
                continue
            expr = self.instantiate(templates[param], rule, bound, g, ans, globals_)
            if rule.op in SCALAR_SAFE_OPS and all(
                    isinstance(bound.get(other), gast.Constant) and
                    isinstance(bound[other].value, (int, float)) for other in rule.wrt if other != param):
                expr = _strip_unbroadcast(expr, self.rt_name)   # a number never broadcasts the other
            pieces.append((arg.id, simplify(expr)))
        return self.share_common_calls(pieces, s)

    def share_common_calls(self, pieces, s):
        """A call that several of one op's contributions make (a custom layer's backward, say)
        is made once, into a temporary."""
        if len(pieces) < 2:
            return pieces
        seen: Dict[str, int] = {}
        for _, expr in pieces:
            for dump in {gast.dump(n) for n in gast.walk(expr) if isinstance(n, gast.Call)}:
                seen[dump] = seen.get(dump, 0) + 1
        shared = [d for d, count in seen.items() if count > 1]
        if not shared:
            return pieces
        largest = max(shared, key=len)
        name = self.namer.fresh(f"d_{s.targets[0].id}_parts")
        node = next(n for _, e in pieces for n in gast.walk(e)
                    if isinstance(n, gast.Call) and gast.dump(n) == largest)
        self.pending_pre.append(assign(name, copy.deepcopy(node)))

        class Replace(gast.NodeTransformer):
            def visit_Call(self, n):
                if gast.dump(n) == largest:
                    return load(name)
                self.generic_visit(n)
                return n
        return [(target, Replace().visit(expr)) for target, expr in pieces]

    def instantiate(self, template, rule, bound, g: str, ans: str, globals_):
        mapping: Dict[str, Any] = {"g": g, "ans": ans}
        mapping.update(bound)
        return self.elide_conj(instantiate_template(template, mapping, globals_, self.np,
                                                    self.rt_names, self.rt_name))

    # --- complex handling, once for every rule ------------------------------------------------
    def expr_is_real(self, node) -> bool:
        for n in walk(node):
            if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load):
                base = self.primal_of(n.id)
                if base in self.act.complex:
                    return False
            if isinstance(n, gast.Constant) and isinstance(n.value, complex):
                return False
        return True

    def primal_of(self, name: str) -> str:
        """The value whose adjoint is called ``name`` (or ``name`` itself)."""
        if self._primal_by_adjoint_of is not self.adjoint or len(self._primal_by_adjoint) != len(self.adjoint):
            self._primal_by_adjoint = {adj: primal for primal, adj in self.adjoint.items()}
            self._primal_by_adjoint_of = self.adjoint
        return self._primal_by_adjoint.get(name, name)

    def elide_conj(self, expr):
        conj_names = {"conj", "conjugate"}
        if not any(isinstance(n, gast.Attribute) and n.attr in conj_names for n in walk(expr)):
            return expr     # nothing to elide (the transformer below would return expr unchanged)
        np_name, AST = self.np, ast.AST

        def elide(node):    # a NodeTransformer's visit (children first, in place), without its dispatch
            for field in node._fields:
                old = getattr(node, field, None)
                if isinstance(old, list):
                    old[:] = [elide(v) if isinstance(v, AST) else v for v in old]
                elif isinstance(old, AST):
                    setattr(node, field, elide(old))
            if type(node) is gast.Call:
                f = node.func
                if isinstance(f, gast.Attribute) and f.attr in conj_names and \
                        isinstance(f.value, gast.Name) and f.value.id == np_name and \
                        len(node.args) == 1 and self.expr_is_real(node.args[0]):
                    return node.args[0]
            return node
        return elide(expr)

    def project_realness(self, name: str, contribution):
        if name not in self.act.complex and self.is_array(name) and not self.expr_is_real(contribution):
            return call(attr(load(self.np), "real"), [contribution])
        return contribution

    # --- the sweeps -----------------------------------------------------------------------------
    def depends_on(self, names: Set[str]) -> Set[str]:
        """Names whose values depend on ``names`` (only their adjoints lead to those names)."""
        seeds = {n for n in names if n in self.act.active}
        flow = Activity(self.fdef, self.act.resolver, self.act.kinds, seeds, set(), self.filename)
        return flow.active & self.act.active

    def site_sweep(self, site: Site, self_contained: bool = False):
        """The sweep of a site.  ``self_contained``: it recomputes the statements before
        the site from the function's arguments (so a later sweep can differentiate it
        as ordinary code) instead of receiving their values."""
        roots = _roots(site.sels) if site.sels is not None else \
            [x.id for x in site.xs if isinstance(x, gast.Name)]
        self.captures = {}
        if site.sels is not None:
            self.check_roots_reached(site, roots)
            self.check_through_gradients(site, roots)
            self.check_attribute_stores(site)
            counts = self.name_counts()
            for r in roots:
                # a name assigned in a loop or branch, or more than once: its gradient is the
                # adjoint of the version the site sees (the first definition the sweep undoes)
                if r in self.assigned_in_compounds() or counts.get(r, (0, 0))[0] > 1:
                    self.captures[r] = (self.namer.fresh(f"found_{r}"), self.namer.fresh(f"grad_{r}"))
        self.relevant = self.depends_on(set(roots))
        state = {"initialized": {site.y}}
        body: List = []
        self.last_prefix = []
        if self_contained:
            # what precedes the site runs again: its effects (draws, prints) are replayed
            self.last_prefix.append(expr_stmt(call(self.rt("replay_from"), [load(self.effects_start)])))
            for block, index, _, depth in site.frames:
                self.last_prefix.extend(self.forward_block(block[:index], depth))
            self.last_prefix.append(expr_stmt(call(self.rt("replay_end"))))
            body.extend(self.last_prefix)
        head_at = len(body)
        if site.kind == SiteKind.DLGRADIENT:
            body.append(assign(self.d(site.y), call(self.rt("seed"), [load(site.y)])))
        else:                       # one cotangent of u per call, chosen by rt.batch_jacobian
            body.append(assign(self.d(site.y), load(self.seed_name)))
        R = {site.y}
        rev: List = []
        for block, index, parent, depth in reversed(site.frames):
            if depth > 0:            # inside a branch: adjoints accumulate from zero
                rev.extend(self.init_adjoints(self.touched(block[:index], R), state))
            if isinstance(parent, (gast.For, gast.While)):
                # the site is in this loop's current iteration (just undone): now the
                # iterations before it
                part, R = self.reverse_earlier_iterations(parent, R, depth, state)
                rev.extend(part)
            # the statements before the site in its block (inside `parent`, an if, the
            # branch is not recorded yet) are done
            part, R = self.reverse_block(block[:index], R, depth, state)
            rev.extend(part)
        body.extend(rev)
        if site.sels is not None:
            results = self.site_results(site, body, head_at, rev, state)
            self.captures = {}
            self.note_reads(body)
            self.note_reads([gast.Expr(value=r) for r in results])
            return body, results
        results = []
        for x in site.xs:
            if isinstance(x, gast.Name):
                dx = load(self.d(x.id)) if x.id in state["initialized"] else ZERO
                results.append(call(self.rt("project"), [dx, load(x.id)]))
            else:
                results.append(call(self.rt("project"), [ZERO, x]))
        self.note_reads(body)
        for x in site.xs:
            for n in loaded_names(x):
                if n in self.forward_names:
                    self.needed.add(n)
        return body, results

    def check_roots_reached(self, site: Site, roots: List[str]):
        """A name made on the site's own line that y does not reach (a list built by a
        comprehension in the call) is a new value: refuse rather than answer zeros."""
        line_only = []
        for r in roots:
            lines = {getattr(st, "lineno", None) for st in _in_order(self.fdef.body)
                     if isinstance(st, gast.Assign) and r in {n.id for t in st.targets
                                                               for n in gast.walk(t)
                                                               if isinstance(n, gast.Name)}}
            if lines == {site.line} and r not in self.params:
                line_only.append(r)
        if not line_only:
            return
        self.relevant = None
        R = {site.y}
        for block, index, parent, depth in reversed(site.frames):
            R = self.reach(block[:index], R)
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

    def check_through_gradients(self, site: Site, roots: List[str]):
        """An earlier gradient that this y depends on is recomputed from the function's
        arguments, so the derivative through it reaches only arguments: refuse a root that is an
        intermediate value that gradient depends on."""
        inner = [s for s in self.sites_so_far if id(s.stmt) in self.site_records]
        intermediate = [r for r in roots if r not in self.params and r != self.vararg]
        if not inner or not intermediate:
            return
        self.relevant = None

        def reach_of(s: Site, start: Set[str]) -> Set[str]:
            R = set(start)
            for block, index, _, _ in reversed(s.frames):
                R = self.reach(block[:index], R)
            return R
        R = reach_of(site, {site.y})
        for s in inner:
            if s.stmt.targets[0].id in R:
                hit = [r for r in intermediate if r in reach_of(s, {s.y})]
                if hit:
                    self.fail(site.stmt, f"y depends on the gradient computed on line {s.line}, which "
                              f"sct recomputes from the arguments of {self.fname}(); the derivative "
                              f"through it with respect to the intermediate value {hit[0]!r} is not "
                              f"modelled. Differentiate with respect to an argument of "
                              f"{self.fname}(), or compute that gradient with "
                              "EnableHigherDerivatives=False if it is meant as a constant",
                              "dlgradient")

    def site_results(self, site: Site, body: List, head_at: int, rev: List, state) -> List:
        """The gradient of each x: the (captured) adjoint of its root names, with the x's own
        selection applied, projected on its value at the site."""
        head: List = []
        tail: List = []
        for r, (found, grad) in self.captures.items():
            head += [assign(found, const(False)), assign(grad, ZERO)]
            final = load(self.d(r)) if r in state["initialized"] else ZERO
            tail.append(gast.If(test=gast.UnaryOp(op=gast.Not(), operand=load(found)),
                                body=[assign(grad, final)], orelse=[]))
        changed = {n.id for st in rev for n in walk(st)
                   if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)}
        snapshots: Dict[str, str] = {}

        def primal(name: str):
            if name in changed:             # the sweep restores older values: keep the site's
                if name not in snapshots:
                    snapshots[name] = self.namer.fresh(name + "_at_site")
                    head.append(assign(snapshots[name], load(name)))
                return load(snapshots[name])
            return load(name)

        def primal_expr(node):
            return substitute(node, {n: primal(n) for n in set(loaded_names(node))})

        def grad_and_value(sel):
            kind = sel[0]
            if kind == "root":
                r = sel[1]
                if r in self.captures:
                    g = load(self.captures[r][1])
                else:
                    g = load(self.d(r)) if r in state["initialized"] else ZERO
                return g, primal(r)
            g, v = grad_and_value(sel[1])
            if kind == "item":
                index = primal_expr(sel[2])
                return (call(self.rt("select_item"), [g, v, index_value(copy.deepcopy(index), self.rt_name)]),
                        gast.Subscript(value=copy.deepcopy(v), slice=index, ctx=gast.Load()))
            return (call(self.rt("select_attribute"), [g, v, const(sel[2])]),
                    attr(copy.deepcopy(v), sel[2]))

        def result(sel):
            kind = sel[0]
            if kind in ("list", "tuple"):
                elts = [result(e) for e in sel[1]]
                return gast.List(elts=elts, ctx=gast.Load()) if kind == "list" else \
                    gast.Tuple(elts=elts, ctx=gast.Load())
            if kind == "dict":
                return gast.Dict(keys=[primal_expr(k) for k, _ in sel[1]],
                                 values=[result(e) for _, e in sel[1]])
            if kind == "star":
                return result(sel[1])
            return call(self.rt("project"), list(grad_and_value(sel)))

        results = [result(sel) for sel in site.sels]
        body[head_at:head_at] = head
        body.extend(tail)
        if any(sel[0] == "star" for sel in site.sels):
            parts = [r if sel[0] == "star" else gast.List(elts=[r], ctx=gast.Load())
                     for sel, r in zip(site.sels, results)]
            results = [call(self.rt("join_gradients"), [gast.List(elts=parts, ctx=gast.Load())])]
        return results

    def vjp_sweep(self, ret: gast.Return):
        self.relevant = None
        self.captures = {}
        state = {"initialized": set()}
        body: List = []
        R: Set[str] = set()
        if isinstance(ret.value, gast.Name) and ret.value.id in self.act.active:
            R = {ret.value.id}
            state["initialized"].add(ret.value.id)
            self.d(ret.value.id)
        rev, R = self.reverse_block(self.fdef.body[:-1], R, 0, state)
        body.extend(rev)
        results = []
        for p in self.params:
            if p in state.get("maybe_zero", ()):      # may still be the zero marker
                results.append(call(self.rt("adjoint_or_zeros"), [load(self.d(p)), load(p)]))
            elif p in state["initialized"]:
                results.append(load(self.d(p)))
            elif p in self.act.active:            # reached by nothing: zeros of its shape
                results.append(call(self.rt("zero_adjoint"), [load(p)]))
            else:
                results.append(ZERO)
        if self.vararg:                            # one adjoint per extra argument
            adjoint = load(self.d(self.vararg)) if self.vararg in state["initialized"] else ZERO
            results.append(gast.Starred(value=call(self.rt("vararg_adjoints"),
                                                   [adjoint, load(self.vararg)]), ctx=gast.Load()))
        return body, results, ret

    # --- assembling functions ---------------------------------------------------------------------
    def sweep_function(self, name: str, body_and_result, results, site: Site,
                       self_contained: bool = False) -> gast.FunctionDef:
        body, result = body_and_result, results
        uses_tape = any(isinstance(n, gast.Name) and n.id == self.tape for st in body for n in walk(st))
        tape_head = [assign(self.tape, gast.List(elts=[], ctx=gast.Load()))] + self.unbound_inits()
        if self_contained:
            read = {n for st in body + [gast.Expr(value=r) for r in result] for n in loaded_names(st)}
            params = [p for p in self.params + [self.vararg] if p and p in read] + [self.effects_start]
            if uses_tape:
                body = copy.deepcopy(tape_head) + body
        else:
            extra = [gast.Expr(value=load(site.y)), gast.Expr(value=site.xs[0])] \
                if site.kind != SiteKind.DLGRADIENT else []
            params = self.residual_names(body + [gast.Expr(value=r) for r in result] + extra)
            if uses_tape and self.tape not in params:
                params.append(self.tape)
        self.sweep_params[name] = params
        value = result[0] if len(result) == 1 else gast.Tuple(elts=result, ctx=gast.Load())
        header = self.line_comment(site.line, "gradient at")
        fbody = [header] + body + [gast.Return(value=value)]
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
        sweep = _function(sweep_name, [packed, self.seed_name], [header, unpack] + body +
                          [gast.Return(value=value)])
        assembler = "batch_jacobian" if site.kind == SiteKind.DLJACOBIAN else "batch_divergence"
        assemble = gast.Return(value=call(self.rt(assembler), [
            load(sweep_name), gast.Tuple(elts=[load(p) for p in params], ctx=gast.Load()),
            load(site.y), site.xs[0], site.dim]))
        head: List = []
        if self_contained:          # u is recomputed here too: the assembler needs its shape
            head = copy.deepcopy(self.last_prefix)
            if any(isinstance(n, gast.Name) and n.id == self.tape for st in head for n in gast.walk(st)):
                head = copy.deepcopy(tape_head) + head
        whole = _function(name, params, [header] + head + [assemble])
        return [whole, sweep]

    def residual_names(self, stmts: List) -> List[str]:
        names: List[str] = []
        seen, adjoints = set(), set(self.adjoint.values())     # sets: lists made this quadratic
        for st in stmts:
            for n in loaded_names(st):
                if n in self.forward_names and n not in seen and n not in adjoints:
                    seen.add(n)
                    names.append(n)
        return sorted(names, key=self.order_key)

    def bwd_function(self, sweep) -> gast.FunctionDef:
        body, results, ret = sweep
        params = self.residual_names(body + [gast.Expr(value=r) for r in results])
        uses_tape = any(isinstance(n, gast.Name) and n.id == self.tape for st in body for n in walk(st))
        if uses_tape and self.tape not in params:
            params.append(self.tape)
        self.residuals = params
        dret = self.d(ret.value.id) if isinstance(ret.value, gast.Name) else self.namer.fresh("d_out")
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
            head.append(assign(self.tape, call(self.rt("copy_list"), [load(self.tape)])))
        zeros = [call(self.rt("zero_adjoint"), [load(p)]) if p in self.act.active else ZERO
                 for p in self.params]
        if self.vararg:
            zeros.append(gast.Starred(value=call(self.rt("vararg_adjoints"), [ZERO, load(self.vararg)]),
                                      ctx=gast.Load()))
        if all(isinstance(p, str) for p in self.params) and \
                all(n.id in params for z in zeros if isinstance(z, gast.Call) for n in z.args):
            # nothing reached the value: every adjoint is zero, skip the sweep
            head.append(gast.If(test=gast.Compare(left=load(dret), ops=[gast.Is()],
                                                  comparators=[self.rt("ZERO")]),
                                body=[gast.Return(value=gast.Tuple(elts=zeros, ctx=gast.Load()))],
                                orelse=[]))
        value = gast.Tuple(elts=results, ctx=gast.Load())
        fbody = head + body + [gast.Return(value=value)]
        return _function(self.namer.fresh(self.fname + "_bwd"), [residual_arg, dret], fbody)

    # --- forward ------------------------------------------------------------------------------------
    def forward_function(self) -> gast.FunctionDef:
        self._in_forward = True
        try:
            body = self.forward_block(self.fdef.body, 0)
        finally:
            self._in_forward = False
        head: List = []
        if self.site_records:         # recomputing sweeps replay this call's effects
            head.append(assign(self.effects_start, call(self.rt("effect_position"))))
        if self.uses_tape:
            head.append(assign(self.tape, gast.List(elts=[], ctx=gast.Load())))
            head.extend(self.unbound_inits())
        name = self.fname if self.mode == "entry" else self.namer.fresh(self.fname + "_fwd")
        return _function(name, list(self.params), head + body, self.kwonly, self.vararg, self.kwarg)

    def unbound_inits(self) -> List:
        """``name = None`` for what the tape records before a loop or branch first assigns it."""
        in_compounds = self.assigned_in_compounds() | self.nested_counters | {
            n for parts in self.vjp_calls.values() for n in (parts.bwd, parts.residuals)}
        passed_on = set(self.needed_final) | set(self.residuals) | {
            p for params in self.sweep_params.values() for p in params}
        unbound = sorted(in_compounds & passed_on - set(self.params) - self.bound_before_compounds(),
                         key=self.order_key)
        return [assign(name, const(None)) for name in unbound]

    def bound_before_compounds(self) -> Set[str]:
        """Names assigned at the top level before any compound statement assigns them."""
        bound: Set[str] = set()
        seen_in_compound: Set[str] = set()
        for s in self.fdef.body:
            if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name):
                if s.targets[0].id not in seen_in_compound:
                    bound.add(s.targets[0].id)
            elif isinstance(s, (gast.If, gast.For, gast.While, gast.With)):
                for n in gast.walk(s):
                    if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store):
                        seen_in_compound.add(n.id)
        return bound

    def assigned_in_compounds(self) -> Set[str]:
        if getattr(self, "_in_compounds", None) is not None:
            return self._in_compounds
        names: Set[str] = set()
        for s in self.fdef.body:
            if isinstance(s, (gast.If, gast.For, gast.While, gast.With)):
                for n in gast.walk(s):
                    if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store):
                        names.add(n.id)
        self._in_compounds = names
        return names

    def push(self, value) -> gast.Expr:
        self.uses_tape = True
        return expr_stmt(call(attr(load(self.tape), "append"), [value]))

    def forward_block(self, block: List, depth: int) -> List:
        out: List = []
        last_line = None
        for s in block:
            line = getattr(s, "lineno", None)
            stmts = self.forward_stmt(s, depth)
            if stmts and _is_comment(stmts[0]):
                if line == last_line:
                    stmts = stmts[1:]            # the same line's comment is already there
                last_line = line
            elif line is not None and line != last_line:
                out.append(self.line_comment(line, ""))
                last_line = line
            elif line == last_line:
                stmts = [st for st in stmts if not _is_comment(st)]
            out.extend(stmts)
        return out

    def forward_stmt(self, s, depth: int) -> List:
        if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name):
            t = s.targets[0].id
            out = []
            if depth > 0 and t in self.needed_final:
                out.append(self.push(load(t)))
            value = s.value
            if id(s) in self.site_calls and id(s) not in self.site_records:
                name = self.site_calls[id(s)]
                params = self.sweep_params[name]
                args = [call("list", [load(p)]) if p == self.tape else load(p) for p in params]
                new = assign(t, call(name, args))
                new.lineno = s.lineno
                out.append(new)
                return out
            if isinstance(value, gast.Attribute) and value.attr in registry.STOP_ATTRIBUTES and \
                    isinstance(value.value, gast.Name) and value.value.id in self.act.active:
                new = assign(t, call(self.rt("stop_gradient"), [value.value]))   # dlarray's .data
                new.lineno = s.lineno
                out.append(new)
                return out
            if isinstance(value, gast.Call):
                info = self.act.call_info(value)
                if self.uses_vjp(s):
                    parts = self.vjp_parts(s)
                    if parts.primal is not None and self.primal_calls and self._in_forward and \
                            parts.bwd not in self.needed_final and parts.residuals not in self.needed_final:
                        new = assign(t, parts.primal)        # no sweep reads its adjoint
                        new.lineno = s.lineno
                        out.append(new)
                        return out
                    if depth > 0:
                        for name in (parts.residuals, parts.bwd):
                            if name in self.needed_final:
                                out.append(self.push(load(name)))
                    for new in parts.statements:
                        new.lineno = s.lineno
                    out.extend(parts.statements)
                    return out
                if info.kind == "create":
                    value = call(self.rt("as_dlarray_data"), value.args, value.keywords)
                    new = assign(t, value)
                    new.lineno = s.lineno
                    out.append(new)
                    return out
                wrapped = self.effect_call(value, t not in self.act.active, False)
                if wrapped is not None:
                    new = assign(t, wrapped)
                    new.lineno = s.lineno
                    out.append(new)
                    return out
            out.append(s)
            return out
        if isinstance(s, gast.Expr) and isinstance(s.value, gast.Call):
            func = s.value.func
            name = func.attr if isinstance(func, gast.Attribute) else getattr(func, "id", None)
            if name == "shuffle" and len(s.value.args) == 1 and not s.value.keywords and \
                    isinstance(s.value.args[0], gast.Name) and s.value.args[0].id not in self.act.active:
                new = assign(s.value.args[0].id, call(self.rt("shuffled"), [func, s.value.args[0]]))
                new.lineno = getattr(s, "lineno", None)
                return [new]
            wrapped = self.effect_call(s.value, True, True)
            if wrapped is not None:
                new = expr_stmt(wrapped)
                new.lineno = getattr(s, "lineno", None)
                return [new]
            return [s]
        if isinstance(s, gast.If):
            # The branch taken is recorded at the end of the branch, so the
            # adjoint reads it before undoing the branch's own records.
            body = self.forward_block(s.body, depth + 1)
            orelse = self.forward_block(s.orelse, depth + 1)
            if self.needs_tape(s) and self.cond_on_tape(s, depth):
                body.append(self.push(const(True)))
                orelse.append(self.push(const(False)))
            node = gast.If(test=s.test, body=body or [gast.Pass()], orelse=orelse)
            node.lineno = s.lineno
            return [self.line_comment(s.lineno, ""), node]
        if isinstance(s, gast.With):
            return [self.line_comment(s.lineno, ""),
                    gast.With(items=s.items, body=self.forward_block(s.body, depth + 1) or [gast.Pass()],
                              type_comment=None)]
        if isinstance(s, (gast.For, gast.While)) and not self.needs_tape(s):
            node = copy.copy(s)
            node.body = self.forward_block(s.body, depth + 1) or [gast.Pass()]
            return [node]
        if isinstance(s, (gast.For, gast.While)):
            n = self.counter(s)
            if depth > 0:
                self.nested_counters.add(n)
            pre = [assign(n, const(0))]
            body = [assign(n, gast.BinOp(left=load(n), op=gast.Add(), right=const(1)))]
            if isinstance(s, gast.For):
                target = s.target.id
                if target in self.needed_final:
                    nxt = self.namer.fresh(target + "_next")
                    header_target = store(nxt)
                    body += [self.push(load(target)), assign(target, load(nxt))]
                else:
                    header_target = store(target)
                node = gast.For(target=header_target, iter=s.iter, body=body, orelse=[], type_comment=None)
            else:
                node = gast.While(test=s.test, body=body, orelse=[])
            body.extend(self.forward_block(s.body, depth + 1))
            node.lineno = s.lineno
            post = [self.push(load(n))] if depth > 0 else []
            return [self.line_comment(s.lineno, "")] + pre + [node] + post
        if isinstance(s, gast.Return) and self.mode == "vjp":
            residuals = gast.Tuple(elts=[load(p) for p in self.residuals], ctx=gast.Load())
            return [gast.Return(value=gast.Tuple(elts=[s.value, residuals], ctx=gast.Load()))]
        return [s]


