"""Plain arrays an adjoint reads, changed in place by code sct cannot look into (red team 50, C).

A differentiated operation that reads a plain array (``y = x * st["w"]``, ``e = E[loader.tokens]``)
keeps a reference to it, and the gradient reads it when it runs.  Writes the compiler can name are
checked where they stand (sct/write_checks.py); a call it cannot look into (a helper or method taken
as not writing, ``rt.maybe_effect``, ``next``, a ``with`` block's ``__enter__``/``__exit__``) that runs
after such a read and before the gradient may change the array unseen (was: the adjoint read the
changed array, a silently wrong gradient).  Around each such call, and only there, the generated
forward code keeps a copy of the arrays at stake and checks after the call that they still hold those
numbers (``rt.stale_kept``, ``rt.stale_check``): refused at the call's line where one changed.  Code
that calls nothing opaque after its reads (a training step's matmul of its data) is left as it was.
"""
from __future__ import annotations

import bisect
import re
from typing import Dict, List, Set

import gast

from .emit import COMMENT, LINE
from .ir import dotted_name, walk_nodes

# runtime functions that run code sct did not compile (the user's, or a library's that may write)
_OPAQUE_RT = frozenset(("effect", "maybe_effect", "unnamed_call", "user_call", "shuffled"))
# calls by a plain name that run code of the user's the compiler did not look into (the others it could
# not name are generated as rt.maybe_effect, rt.unnamed_call, rt.user_call)
_OPAQUE_BUILTINS = frozenset(("next", "setattr", "exec", "eval"))
# methods that change an array (or a generator's state and its output) in place
_ARRAY_WRITERS = frozenset(("sort", "fill", "partition", "put", "itemset", "resize", "setfield", "byteswap",
                            "shuffle", "permuted", "__setitem__", "__iadd__", "__isub__", "__imul__",
                            "__itruediv__", "__ifloordiv__", "__ipow__", "__imod__", "__imatmul__", "__ior__",
                            "__iand__", "__ixor__", "__next__", "send"))
# numpy functions whose result may be (a view of) the array they are given
_NUMPY_VIEWS = frozenset(("asarray", "asanyarray", "ravel", "reshape", "squeeze", "transpose", "atleast_1d",
                          "atleast_2d", "atleast_3d", "broadcast_to", "diagonal", "expand_dims", "real", "imag",
                          "moveaxis", "swapaxes", "ascontiguousarray", "asfortranarray", "require", "flip",
                          "fliplr", "flipud", "rot90", "squeeze", "view", "matrix_transpose", "permute_dims"))

_VIEW_METHODS = frozenset(("reshape", "ravel", "view", "transpose", "squeeze", "swapaxes", "diagonal", "T",
                           "__getitem__", "getfield"))


def _dotted(node) -> List[str]:
    """``["np", "linalg", "norm"]`` for an Attribute chain on a Name (ir.dotted_name's parts), else []."""
    name = dotted_name(node)
    return name.split(".") if name else []


class _Pass:
    def __init__(self, fwd, others, active, rt_name, numpy_name, spelled, filename, namer, final_loads, known):
        self.known = known      # the names of the function sct compiled (after normalizing)
        self.fwd, self.rt, self.np = fwd, rt_name, numpy_name
        self.spelled, self.filename, self.namer = spelled, filename, namer
        self.generated = {f.name: f for f in others}
        self.final_loads = final_loads      # (VJP mode: what the forward's return hands to the adjoint)
        self.loads: Dict[str, Set[str]] = {}
        self.recomputes: Dict[str, bool] = {}
        for name in self.generated:
            self._sweep_names(name, set())
        self.active = set(active)
        self.read_from: Dict[str, bool] = {}      # per name the code binds: to a field or an item read?
        self.views: Set[str] = set()        # names bound to the result of a method that may give a view

    def _sweep_names(self, name: str, seen: Set[str]) -> Set[str]:
        """The names a generated function (and the generated functions it names) reads or binds."""
        if name in self.loads:
            return self.loads[name]
        seen.add(name)
        names: Set[str] = set()
        recomputes = False
        for n in walk_nodes(self.generated[name]):
            if isinstance(n, gast.Name):
                names.add(n.id)
            elif isinstance(n, gast.Attribute) and n.attr == "replay_from":
                recomputes = True
        for other in list(names):
            if other in self.generated and other not in seen:
                names |= self._sweep_names(other, seen)
                recomputes = recomputes or self.recomputes.get(other, False)
        self.loads[name] = names
        self.recomputes[name] = recomputes
        return names

    # -- the forward code, in the order it runs (a loop's body twice: its next step follows) --
    def events(self, body, out, parent):
        for k, s in enumerate(body):
            if isinstance(s, (gast.For, gast.While)):
                self.events(s.body, out, s.body)
                self.events(s.body, out, s.body)
                self.events(s.orelse, out, s.orelse)
            elif isinstance(s, gast.If):
                self.events(s.body, out, s.body)
                self.events(s.orelse, out, s.orelse)
            elif isinstance(s, gast.Try):
                self.events(s.body, out, s.body)
                for h in s.handlers:
                    self.events(h.body, out, h.body)
                self.events(s.orelse, out, s.orelse)
                self.events(s.finalbody, out, s.finalbody)
            elif isinstance(s, gast.With):
                out.append(("enter", s, parent))
                self.events(s.body, out, s.body)
                out.append(("exit", s, parent))
            else:
                out.append(("stmt", s, parent))

    def surely_bound(self, body, sure: Set[str]) -> None:
        """Per statement of the forward code that may get a check (``self.wanted``), the names surely bound
        where it starts (was: a copy for every statement, quadratic in the function's length in time and
        memory: 300 MB for a 1,000-line function, every later pass slower in the larger heap)."""
        for s in body:
            if id(s) in self.wanted:
                self.sure[id(s)] = set(sure)
            if isinstance(s, (gast.For, gast.While)):
                self.surely_bound(s.body, set(sure))
                self.surely_bound(s.orelse, set(sure))
            elif isinstance(s, gast.If):
                self.surely_bound(s.body, set(sure))
                self.surely_bound(s.orelse, set(sure))
            elif isinstance(s, gast.Try):
                for block in [s.body, s.orelse, s.finalbody] + [h.body for h in s.handlers]:
                    self.surely_bound(block, set(sure))
            elif isinstance(s, gast.With):
                self.surely_bound(s.body, set(sure))
            elif isinstance(s, gast.Delete):
                sure -= {n.id for t in s.targets for n in walk_nodes(t) if isinstance(n, gast.Name)}
            else:
                sure |= _targets(s) | ({n.id for n in walk_nodes(s.target) if isinstance(n, gast.Name)}
                                       if isinstance(s, gast.AugAssign) else set())

    def opaque(self, s) -> bool:
        targets = s.targets if isinstance(s, gast.Assign) else [s.target] if isinstance(s, gast.AugAssign) else []
        for t in targets:
            if isinstance(t, gast.Attribute) and not (isinstance(t.value, gast.Name) and t.value.id == self.rt):
                return True         # ``G.flat = v``, a property's setter
            if isinstance(t, gast.Subscript) and isinstance(t.value, gast.Name) and t.value.id in self.views:
                return True         # ``G.reshape(3)[1] = v``: into a view the compiler took for a new array
        for n in walk_nodes(s):
            if not isinstance(n, gast.Call):
                continue
            parts = _dotted(n.func)
            if not parts:
                return True         # a call of a call's result, of an item
            if parts[0] == self.rt:
                if len(parts) == 2 and parts[1] in _OPAQUE_RT:
                    return True
                continue
            if parts[0] == self.np:
                if "ndarray" in parts or parts[-1] in ("copyto", "put", "place", "putmask", "fill_diagonal") or \
                        len(parts) > 2 and parts[-1] == "at":
                    return True
                continue
            if len(parts) == 1:
                if parts[0] in _OPAQUE_BUILTINS:
                    return True     # (other calls the compiler could not name go through rt.maybe_effect)
                continue
            if parts[-1] in _ARRAY_WRITERS:
                return True
        return False

    def _note_bindings(self, s) -> None:
        if not isinstance(s, gast.Assign):
            return
        v = s.value
        # a field or an item read from something (``bn_rv = bn.rv``), or a traced value's own numbers: a
        # recomputation reads it again as the first run left it (what the function made, it makes anew)
        base = v.value if isinstance(v, (gast.Attribute, gast.Subscript)) else \
            v.args[0] if isinstance(v, gast.Call) and _dotted(v.func)[-1:] == ["extractdata"] and v.args else None
        read = isinstance(base, gast.Name) and (base.id not in self.bound or base.id in self.params or
                                                self.read_from.get(base.id, False))
        view = isinstance(v, gast.Call) and (
            isinstance(v.func, gast.Attribute) and v.func.attr in _VIEW_METHODS and
            not (isinstance(v.func.value, gast.Name) and v.func.value.id == self.rt) or
            _dotted(v.func)[:1] == [self.np] and _dotted(v.func)[-1] in _NUMPY_VIEWS or
            self.opaque(gast.Expr(value=v)))        # (``t = rt.maybe_effect(G.view)``: what it gives may be one)
        for t in s.targets:
            for n in walk_nodes(t):
                if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store):
                    self.read_from[n.id] = read     # (the binding the code that follows reads)
                    if view:
                        self.views.add(n.id)

    @staticmethod
    def _line(s, current):
        if isinstance(s, gast.Expr) and isinstance(s.value, gast.Constant) and isinstance(s.value.value, str) \
                and s.value.value.startswith(COMMENT + LINE):
            m = re.match(re.escape(COMMENT + LINE) + r"(\d+)" + re.escape(LINE), s.value.value)
            if m:
                return int(m.group(1))
        return current

    def run(self) -> None:
        events: List = []
        self.events(self.fwd.body, events, self.fwd.body)
        params = {a.id for a in self.fwd.args.args if isinstance(a, gast.Name)}
        # the names a differentiated statement reads, with the line of its first such read
        self.params = params
        self.bound = {n.id for n in walk_nodes(self.fwd) if isinstance(n, gast.Name) and
                      isinstance(n.ctx, (gast.Store, gast.Param))} | params
        info = []           # per event: (line, loads, active?, sweeps referenced, is opaque)
        line = self.fwd.lineno if hasattr(self.fwd, "lineno") else 0
        active = set(self.active)
        for kind, s, parent in events:
            line = self._line(s, line) if kind == "stmt" else line
            node = s if kind == "stmt" else None
            loads = {n.id for n in walk_nodes(node) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load)} \
                if node is not None else set()
            if kind == "enter":
                loads = {n.id for item in s.items for n in walk_nodes(item)
                         if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load)}
            is_active = bool(loads & active)
            if is_active and isinstance(node, gast.Assign):
                # (the temporaries generated code made; the user's names are traced as the compiler found:
                # ``e = extractdata(x)`` is not)
                for t in node.targets:
                    active |= {n.id for n in walk_nodes(t) if isinstance(n, gast.Name) and n.id not in self.known}
            sweeps = {n for n in loads if n in self.generated}
            final = isinstance(node, gast.Return) and self.final_loads
            opaque = kind != "stmt" or (node is not None and not isinstance(node, (gast.Return, gast.Raise)) and
                                        not (isinstance(node, gast.Expr) and isinstance(node.value, gast.Constant))
                                        and self.opaque(node))
            # (what each name read here was bound to: a field or an item read, where the name is the code's)
            reads_of_fields = {n for n in loads if self.read_from.get(n)}
            if node is not None:
                self._note_bindings(node)
            info.append((line, loads, is_active, sweeps, opaque, final, reads_of_fields))
        first: Dict = {}
        last: Dict = {}
        for i, (kind, s, parent) in enumerate(events):
            if info[i][4]:
                first.setdefault((kind, id(s)), i)
                last[(kind, id(s))] = i
        self.sure: Dict[int, Set[str]] = {}
        self.wanted = {id(events[i][1]) for i in first.values()}
        self.surely_bound(self.fwd.body, set(params))
        bound = self.bound
        guarded = any(isinstance(n, gast.Attribute) and n.attr == "recompute_guard" for n in walk_nodes(self.fwd))
        # the events that read a sweep or are the final return (what ``later`` gathers), and each event's
        # targets, found once (was: every event after and before each opaque one looked at again:
        # quadratic in a function of many opaque calls)
        reading = [j for j in range(len(events)) if info[j][3] or info[j][5]]
        targets: List = [None] * len(events)
        for key, i in first.items():
            kind, s, parent = events[i]
            later: Set[str] = set()
            recompute = False
            for j in reading[bisect.bisect_right(reading, i):]:
                for sweep in info[j][3]:
                    later |= self.loads[sweep]
                    recompute = recompute or self.recomputes[sweep]
                if info[j][5]:
                    later |= info[j][1]
            if not later:
                continue
            at_stake: Dict[str, int] = {}
            upto = last[key] + 1 if kind == "exit" else last[key]
            for j in range(upto):
                line_j, loads, is_active, _, _, _, reads_of_fields = info[j]
                # (a recomputation that reads an argument's, a global's or a field's array as changed, not an
                # operation's saved reference: what no differentiated operation read is checked only there;
                # code with rt.recompute_guard is refused in its recomputation already)
                recomputed = recompute and not guarded
                if not (is_active or recomputed):
                    continue
                if targets[j] is None:
                    targets[j] = _targets(events[j][1])
                residual = any(n.endswith("_residuals") for n in later & targets[j])
                for n in loads:
                    if n in active or n in self.generated or n == self.rt or n == self.np:
                        continue
                    if not is_active and (n in bound and n not in params and n not in reads_of_fields):
                        continue
                    if n in later or residual:
                        at_stake.setdefault(n, line_j)
            if at_stake:
                self.insert(kind, s, parent, at_stake, info[i][0], bound)

    def insert(self, kind, s, parent, at_stake, line, bound) -> None:
        from .ir import assign, call, const, load, expr_stmt
        names = sorted(at_stake)
        kept = self.namer.fresh("stale_kept")
        rt = lambda f: gast.Attribute(value=load(self.rt), attr=f, ctx=gast.Load())
        strings = lambda items: gast.Tuple(elts=[const(n) for n in items], ctx=gast.Load())
        sure = set(self.sure.get(id(s), ()))
        if kind == "exit":      # (at the end of the with block's body)
            for t in s.body:
                sure |= _targets(t)
        names = [n for n in names if n not in bound or n in sure]
        if not names:
            return      # (a name bound later in a loop's body, or in a branch: it may be unbound here)
        take = assign(kept, call(rt("stale_kept"), [load(n) for n in names]))
        what = "this with statement's context manager" if kind != "stmt" else "this call"
        check = expr_stmt(call(rt("stale_check"), [
            load(kept), strings([self.spelled.get(n, n) for n in names]),
            gast.Tuple(elts=[const(at_stake[n]) for n in names], ctx=gast.Load()),
            const(what), const(self.filename), const(line)]))
        k = next(k for k, t in enumerate(parent) if t is s)
        if kind == "stmt":
            parent[k:k + 1] = [take, s, check]
        elif kind == "enter":
            parent.insert(k, take)
            s.body.insert(0, check)
        else:
            parent.insert(k, assign(kept, const(None)))
            s.body.append(take)
            parent.insert(k + 2, check)


def _targets(s) -> Set[str]:
    if isinstance(s, gast.Assign):
        return {n.id for t in s.targets for n in walk_nodes(t) if isinstance(n, gast.Name)}
    return set()


def stale_read_checks(generated, fdef, active, rt_name, numpy_name, spelled, filename, namer, vjp: bool) -> None:
    """Add the checks to the generated forward function (``generated.entry``)."""
    functions = [f for f in generated.functions if isinstance(f, gast.FunctionDef)]
    fwd = next((f for f in functions if f.name == generated.entry), None)
    if fwd is None:
        return
    others = [f for f in functions if f is not fwd]
    final = set()
    if vjp and generated.bwd is not None:
        final = {"__return__"}
    known = {n.id for n in walk_nodes(fdef) if isinstance(n, gast.Name)}
    _Pass(fwd, others, active, rt_name, numpy_name, spelled, filename, namer, final, known).run()
