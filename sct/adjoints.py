"""The adjoint of statement lists: what a sweep runs for the statements before its site,
newest first, restoring from the tape inside loops and branches.
"""
from __future__ import annotations

import copy
from typing import Dict, List, Set, Tuple

import gast

from .calls import CallLowering
from .contributions import Contributions
from .generation import EmitPass, Generation
from .ir import assign, attr, call, const, load, loaded_names, store, expr_stmt
from .templates import ZERO


class StatementAdjoints(EmitPass):
    """The adjoint of a statement list, newest first: assignments, attribute stores, branches
    and loops, with the tape popped where the forward pushed.  Each assignment's adjoint is
    ``contrib``'s; a helper call's pair is ``calls``'."""

    def __init__(self, gen: Generation, calls: CallLowering, contrib: Contributions):
        super().__init__(gen)
        self.calls = calls
        self.contrib = contrib
        self.needed: Set[str] = set()       # what it records: the primal names some adjoint reads
        # the pops the tape plan asked for (id -> (node, name)) and, per statement list, what each
        # statement's adjoint wrote (line, compound?, its comment, its code): reverse.drop_pops reads them
        self.restored_pops: Dict[int, Tuple[gast.stmt, str]] = {}
        self.block_logs: List[List[Tuple]] = []

    # --- adjoint of a statement list --------------------------------------------------------------
    def reverse_block(self, block: List, R: Set[str], depth: int, state) -> Tuple[List, Set[str]]:
        out: List = []
        last_line = None
        log: List[Tuple] = []
        for s in reversed(block):
            stmts, R = self.reverse_stmt(s, R, depth, state)
            if stmts:
                line = getattr(s, "lineno", None)
                compound = isinstance(s, (gast.If, gast.For, gast.While, gast.With))
                comment = None
                if line is not None and line != last_line and not compound:
                    comment = self.gen.line_comment(line, "adjoint of")
                    out.append(comment)
                    last_line = line
                out.extend(stmts)
                log.append((line, compound, comment, tuple(stmts)))
        self.block_logs.append(log)
        return out, R

    def reverse_stmt(self, s, R: Set[str], depth: int, state) -> Tuple[List, Set[str]]:
        if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name):
            return self.reverse_assign(s, R, depth, state)
        if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Attribute):
            return self.reverse_attribute_store(s, R, depth, state)
        if isinstance(s, gast.If):
            return self.reverse_if(s, R, depth, state)
        if isinstance(s, gast.With):           # ran once: its body's adjoint, in place
            pre = self.init_adjoints(self.live.touched(s.body, R, self.gen.scope.relevant), state)
            body, R = self.reverse_block(s.body, R, depth + 1, state)
            return pre + body, R
        if isinstance(s, (gast.For, gast.While)):
            return self.reverse_loop(s, R, depth, state)
        return [], R

    def pop(self, name: str) -> gast.Assign:
        self.gen.uses_tape = True
        return assign(name, call(attr(load(self.gen.tape), "pop")))

    def restores(self, name: str, depth: int) -> bool:
        return depth > 0 and self.gen.restored(name)

    def restore(self, name: str) -> gast.Assign:
        """The pop of a value the tape plan restores (kept, so that a prune may drop it)."""
        node = self.pop(name)
        self.restored_pops[id(node)] = (node, name)
        return node

    def reverse_assign(self, s: gast.Assign, R: Set[str], depth: int, state) -> Tuple[List, Set[str]]:
        t = s.targets[0].id
        out: List = []
        pops: List = []
        if self.calls.uses_vjp(s):                 # undo in the reverse order of the records
            parts = self.calls.vjp_parts(s)
            pops = [self.restore(n) for n in (parts.bwd, parts.residuals) if self.restores(n, depth)]
        if self.restores(t, depth):
            pops.append(self.restore(t))
        reached = t in R and t in self.act.active and (depth > 0 or t in state["initialized"])
        capture = self.capture(t, reached)
        if not reached:
            return capture + pops, R
        ops = self.live.operands(s, self.gen.scope.relevant)
        g = self.gen.d(t)
        # The adjoint of t's earlier value starts at zero (inside loops and branches).
        reset = [assign(g, self.rt("ZERO"))] if depth > 0 else []
        if reset:             # after the loop or branch, t's adjoint may be the zero marker
            state.setdefault("maybe_zero", set()).add(t)
        if depth > 0 and t in loaded_names(s.value) and self.calls.uses_vjp(s):
            # x = helper(x): the adjoint reads the current records (popped after it) and
            # writes the old x's adjoint, which starts at zero
            g_out = self.namer.fresh(g + "_out")
            self.gen.adjoint_aliases[g_out] = t
            parts = self.contrib.contributions(s, g_out, t, state, depth)
            out.extend(capture)
            out.append(assign(g_out, load(g)))
            out += reset + self.unless_zero(g_out, parts, depth) + pops
            self.note_reads(out)
            return out, R | set(ops)
        if depth > 0 and t in loaded_names(s.value):
            # x = f(x): the rule needs the old x, so restore it first
            g_out = self.namer.fresh(g + "_out")
            ans = self.namer.fresh(t + "_new")
            self.gen.adjoint_aliases[g_out] = ans
            keep_new = assign(ans, load(t))
            # the rules read ans for t's new value: it is complex, an array, where t is (else a
            # complex t's rule dropped its conj and its real operands' projection)
            for facts in (self.act.complex, self.act.maybe_complex, self.act.arrays):
                if t in facts:
                    facts.add(ans)
            parts = self.contrib.contributions(s, g_out, ans, state, depth)
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
        out.extend(self.unless_zero(g, self.contrib.contributions(s, g, t, state, depth), guard_depth))
        out += pops + reset
        self.note_reads(out)
        return out, ((R - {t}) | set(ops)) if depth == 0 else (R | set(ops))

    def capture(self, t: str, reached: bool) -> List:
        """For a name a site differentiates with respect to: keep the adjoint of the version
        the site sees, the first time the sweep undoes an assignment of it."""
        if t not in self.gen.scope.captures:
            return []
        found, grad = self.gen.scope.captures[t]
        value = load(self.gen.d(t)) if reached else ZERO
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
        if not isinstance(obj, gast.Name) or obj.id not in R:
            return [], R
        d_obj = self.gen.d(obj.id)
        if not (isinstance(value, gast.Name) and value.id in self.act.active):
            # a constant stored: the field's adjoint (from reads after this store) is spent here,
            # never passed on to the value the field held before
            if obj.id not in state["initialized"]:
                return [], R
            return [assign(d_obj, call(self.rt("drop_attribute"), [load(d_obj), const(target.attr)]))], R
        self.init_adjoints({obj.id}, state)
        state.setdefault("maybe_zero", set()).add(value.id)    # the field's adjoint may be the marker
        out = [self.contrib.accumulate(value.id, call(self.rt("getattr_or_zero"),
                                                      [load(d_obj), const(target.attr)]),
                                       state, depth),
               assign(d_obj, call(self.rt("drop_attribute"), [load(d_obj), const(target.attr)]))]
        return out, R | {value.id}

    def note_reads(self, stmts: List):
        for st in stmts:
            for n in loaded_names(st):
                if n in self.gen.forward_names:
                    self.needed.add(n)

    def reverse_if(self, s: gast.If, R: Set[str], depth: int, state) -> Tuple[List, Set[str]]:
        touched = self.live.touched(s.body + s.orelse, R, self.gen.scope.relevant)
        pre = self.init_adjoints(touched, state)
        body, R1 = self.reverse_block(s.body, R, depth + 1, state)
        orelse, R2 = self.reverse_block(s.orelse, R, depth + 1, state)
        out = list(pre)
        if not self.gen.needs_tape(s):
            return out, R
        if not body and not orelse:
            if self.live.cond_on_tape(s, depth):
                self.gen.uses_tape = True
                out.append(expr_stmt(call(attr(load(self.gen.tape), "pop"))))
            return out, R
        test = s.test
        if self.live.cond_on_tape(s, depth):
            cond = self.namer.fresh("cond_taken")
            out.append(self.pop(cond))
            test = load(cond)
        else:
            self.note_reads([gast.Expr(value=test)])
        out.append(self.gen.line_comment(s.lineno, "adjoint of the branch on"))
        node = gast.If(test=copy.deepcopy(test), body=body or [gast.Pass()], orelse=orelse)
        out.append(node)
        return out, R1 | R2

    def reverse_loop(self, s, R: Set[str], depth: int, state) -> Tuple[List, Set[str]]:
        if not self.gen.needs_tape(s):
            return [], R
        R_in = self.live.loop_reach(s, R, self.gen.scope.relevant)
        touched = self.live.touched(s.body, R_in, self.gen.scope.relevant)
        pre = self.init_adjoints(touched, state)
        body, _ = self.reverse_block(s.body, R_in, depth + 1, state)
        n = self.gen.counter(s)
        out = list(pre)
        if isinstance(s, gast.For):
            target = s.target.id
            if self.gen.restored(target):
                body.append(self.restore(target))
        if not body and depth == 0:      # nothing in the loop reaches the gradient
            return out, R_in
        if depth > 0:
            out.append(self.pop(n))
        else:
            self.needed.add(n)
        out.append(self.gen.line_comment(s.lineno, "adjoint of the loop on"))
        loop = gast.For(target=store(self.iteration_name()), iter=call("range", [load(n)]), body=body or [gast.Pass()],
                        orelse=[], type_comment=None)
        out.append(loop)
        return out, R_in

    def iteration_name(self) -> str:
        """The reversed loop's own counter: ``_``, unless the function names a value so (was: ``for _,
        layer in enumerate(ls)`` had its index, taped for the adjoint, overwritten by the reversed loop's
        ``for _ in range(n)``, and each layer's gradient went to another layer)."""
        # (read from the user's code, once: the names taken so far varied with what was compiled before,
        # and so did the printed source)
        if not hasattr(self, "underscore_used"):
            self.underscore_used = any(isinstance(n, gast.Name) and n.id == "_" for n in gast.walk(self.gen.fdef))
        return self.namer.fresh("_iteration") if self.underscore_used else "_"

    def reverse_earlier_iterations(self, s, R: Set[str], depth: int, state) -> Tuple[List, Set[str]]:
        """For a site inside loop ``s``: undo the current iteration's start, then the
        iterations that completed before it (their count is the counter minus one)."""
        if not self.gen.needs_tape(s):
            return [], R
        out: List = []
        if isinstance(s, gast.For) and self.gen.restored(s.target.id):
            out.append(self.restore(s.target.id))
        R_in = self.live.loop_reach(s, R, self.gen.scope.relevant)
        touched = self.live.touched(s.body, R_in, self.gen.scope.relevant)
        out.extend(self.init_adjoints(touched, state))
        body, _ = self.reverse_block(s.body, R_in, depth + 1, state)
        if isinstance(s, gast.For) and self.gen.restored(s.target.id):
            body.append(self.restore(s.target.id))
        n = self.gen.counter(s)
        self.needed.add(n)
        out.append(self.gen.line_comment(s.lineno, "adjoint of the earlier iterations of the loop on"))
        done = gast.BinOp(left=load(n), op=gast.Sub(), right=const(1))
        out.append(gast.For(target=store(self.iteration_name()), iter=call("range", [done]), body=body or [gast.Pass()],
                            orelse=[], type_comment=None))
        return out, R_in

    def init_adjoints(self, names: Set[str], state) -> List:
        out = []
        for name in sorted(names, key=self.gen.order_key):
            if name not in state["initialized"]:
                out.append(assign(self.gen.d(name), self.rt("ZERO")))
                state.setdefault("maybe_zero", set()).add(name)
                state["initialized"].add(name)
        return out
