"""Normalization, first step: early ``return``, ``break`` and ``continue`` become flags and guarded
blocks (``sct.normalize`` runs it before lowering statements; see its docstring)."""
from __future__ import annotations

from typing import List, Optional, Tuple

import gast

from .ir import assign, child_nodes, const, load, store, walk_no_defs
from .naming import Namer


_DEFS = (gast.FunctionDef, gast.AsyncFunctionDef, gast.ClassDef)


class JumpLowering:
    """Early return, break and continue become flags and guarded blocks."""

    def __init__(self, namer: Namer, fail):
        self.namer = namer
        self.fail = fail
        self.retval: Optional[str] = None
        self.returned: Optional[str] = None

    def lower_function(self, body: List) -> List:
        # (a nested def's own returns are not the function's: was read as an early return, so the
        # statements after ``def inner(z): return ...`` were guarded by a flag and the formats of the
        # values returned merged with the flag's None: an unformatted (lost) dlarray out of dlfeval)
        returns = [n for s in body if not isinstance(s, _DEFS) for n in walk_no_defs(s) if isinstance(n, gast.Return)]
        final = body[-1] if body and isinstance(body[-1], gast.Return) else None
        if all(r is final for r in returns):
            if not any(self.has_loop_jump(s) for s in body):
                return body
            return self.block(body, None)
        self.retval = self.namer.fresh("retval")
        self.returned = self.namer.fresh("returned")
        line = body[0].lineno
        head = [assign(self.retval, const(None), line), assign(self.returned, const(False), line)]
        lowered = self.block(body, None)
        ret = gast.Return(value=load(self.retval))
        ret.lineno = returns[-1].lineno
        return head + lowered + [ret]

    @staticmethod
    def has_loop_jump(node) -> bool:
        for n in walk_no_defs(node):
            if isinstance(n, (gast.Break, gast.Continue)):
                return True
        return False

    def jumps_here(self, node) -> bool:
        """Does ``node`` contain a break/continue of the current loop, or a return?"""
        if isinstance(node, _DEFS):
            return False            # (its returns are its own)
        if isinstance(node, (gast.For, gast.While)):
            return bool(self.returned) and any(isinstance(m, gast.Return) for m in walk_no_defs(node))
        todo = [node]
        while todo:
            n = todo.pop()
            if isinstance(n, gast.Return) and self.returned:
                return True
            if isinstance(n, (gast.Break, gast.Continue)):
                return True
            for child in child_nodes(n):        # (no context or operator leaf jumps or returns)
                if isinstance(child, (gast.For, gast.While)):
                    if any(isinstance(m, gast.Return) for m in walk_no_defs(child)) and self.returned:
                        return True
                    continue
                if isinstance(child, (gast.FunctionDef, gast.Lambda, gast.ClassDef)):
                    continue
                todo.append(child)
        return False

    def block(self, stmts: List, loop: Optional[Tuple[str, str]]) -> List:
        out: List = []
        for i, s in enumerate(stmts):
            jumps = self.jumps_here(s)
            out.extend(self.stmt(s, loop))
            if jumps and i + 1 < len(stmts):
                test = gast.UnaryOp(op=gast.Not(), operand=load(loop[0] if loop else self.returned))
                guard = gast.If(test=test, body=self.block(stmts[i + 1:], loop), orelse=[])
                guard.lineno = stmts[i + 1].lineno
                out.append(guard)
                break
        return out

    def stmt(self, s, loop):
        line = s.lineno
        if isinstance(s, gast.Return) and self.returned:
            value = s.value if s.value is not None else const(None)
            out = [gast.Assign(targets=[store(self.retval)], value=value, type_comment=None),
                   assign(self.returned, const(True), line)]
            out[0].lineno = line
            if loop:
                out += [assign(loop[0], const(True), line), assign(loop[1], const(True), line)]
            return out
        if isinstance(s, gast.Break):
            if not loop:
                self.fail(s, "break outside a loop", "remove it")
            return [assign(loop[0], const(True), line), assign(loop[1], const(True), line)]
        if isinstance(s, gast.Continue):
            if not loop:
                self.fail(s, "continue outside a loop", "remove it")
            return [assign(loop[0], const(True), line)]
        if isinstance(s, gast.If):
            s.body = self.block(s.body, loop)
            s.orelse = self.block(s.orelse, loop)
            return [s]
        if isinstance(s, gast.With):
            s.body = self.block(s.body, loop)
            return [s]
        if isinstance(s, (gast.For, gast.While)):
            # (decided before the body is lowered: lowering replaces its returns by flags)
            returns_inside = bool(self.returned) and any(isinstance(n, gast.Return)
                                                         for n in walk_no_defs(s))
            if not self.jumps_here_in_loop(s):
                # no jump of this loop, but a loop nested in it may have its own
                s.body = self.block(s.body, None)
                return [s]
            skip = self.namer.fresh("skip")
            stop = self.namer.fresh("stop")
            body = [assign(skip, const(False), line)] + self.block(s.body, (skip, stop))
            closing = gast.If(test=load(stop), body=[gast.Break()], orelse=[])
            closing.lineno = line
            closing.body[0].lineno = line
            s.body = body + [closing]
            out = [assign(stop, const(False), line), s]
            if loop and returns_inside:
                out.append(gast.If(test=load(self.returned),
                                   body=[assign(loop[0], const(True), line),
                                         assign(loop[1], const(True), line)], orelse=[]))
                out[-1].lineno = line
            return out
        return [s]

    def jumps_here_in_loop(self, loop) -> bool:
        for s in loop.body:
            if self.jumps_here(s):
                return True
        return False
