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
import copy
import re
import types
from typing import Dict, List, Set, Tuple

import gast
import numpy as np

from .emit import COMMENT, LINE
from .implicit_hooks import runs_hook, hook_subjects, hooks_within_reach, plain_locals
from .ir import dotted_name, walk_nodes
from .runtime.effects import FieldPath

# runtime functions that run code sct did not compile (the user's, or a library's that may write)
_OPAQUE_RT = frozenset(("effect", "maybe_effect", "unnamed_call", "user_call", "shuffled", "primal_call_at",
                        "primal_method_at", "as_sequence"))
# (``rt.as_sequence(c)`` of a for loop runs ``c.__iter__``/``__next__`` where c is a user's object: was taken for no
# such call, a container whose __iter__ rescaled an array read before the loop gave a silently wrong gradient;
# checked only where what it walks is not a list, tuple, dict, array...: rt.stale_kept_walk)
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


# what Python runs of an object's class where code uses the object otherwise than reading its fields or
# calling its methods: ``len(c)``, ``if c:``, ``3 in c``, ``f"{c}"``, ``W[c]``, ``np.asarray(c)``, ``list(c)``
_PROTOCOL = ("__len__", "__bool__", "__float__", "__int__", "__index__", "__complex__", "__contains__", "__eq__",
             "__ne__", "__lt__", "__le__", "__gt__", "__ge__", "__format__", "__str__", "__repr__", "__array__",
             "__iter__", "__next__", "__getitem__", "__hash__", "__round__", "__abs__", "__reversed__",
             "__getattribute__", "__array_interface__", "__array_function__", "__array_ufunc__", "__missing__")


def _user_code(f) -> bool:
    return type(f) is types.FunctionType and not f.__code__.co_filename.startswith("<")


def _classes(param_kinds, outside) -> Dict[str, type]:
    """The user's classes of the parameters' objects and of the objects the function reads by a free name
    (a global's, a closure value's: ``outside``, name -> value, of the names the function does not bind)."""
    from .operand_checks import user_class
    out = {}
    for name, kind in (param_kinds or {}).items():
        cls = kind[1] if isinstance(kind, tuple) and len(kind) > 1 and kind[0] == "obj" else None
        if isinstance(cls, type) and user_class(cls):
            out[name] = cls
    for name, value in (outside or {}).items():
        if name not in out and not isinstance(value, type) and user_class(type(value)):
            out[name] = type(value)
    return out


def protocol_objects(param_kinds, outside=None) -> Set[str]:
    """The parameters (and free names, ``outside``) holding an object of a user's class whose own code runs
    where the code uses the object (its ``__len__``, ``__bool__``, ``__iter__``...: a plain name's use, not a
    call sct sees; was: only parameters, a global object's ``__getitem__`` or ``__bool__`` changing a list an
    adjoint reads gave the changed numbers as the gradient, red2_56 W4)."""
    from .operand_checks import user_class
    # (the user's own functions: a dataclass's generated __eq__ and __repr__ change nothing)
    return {name for name, cls in _classes(param_kinds, outside).items()
            if any(_user_code(vars(k).get(m)) for k in cls.__mro__ if user_class(k) for m in _PROTOCOL)}


def getter_objects(param_kinds, outside=None) -> Dict[str, type]:
    """Those whose class runs code of the user's where the code reads a field: a property, ``__getattr__``
    (``lr = sched.lr``; was: taken for no call, red2_56 W4)."""
    from .operand_checks import user_class
    out = {}
    for name, cls in _classes(param_kinds, outside).items():
        mine = [k for k in cls.__mro__ if user_class(k)]
        if any(isinstance(v, property) or _user_code(vars(k).get("__getattr__")) for k in mine
               for v in vars(k).values()):
            out[name] = cls
    return out


def runs_getter(cls, attr) -> bool:
    """Whether reading ``obj.attr`` of an object of ``cls`` may run the user's code."""
    import inspect
    try:
        static = inspect.getattr_static(cls, attr)
    except AttributeError:
        return any(_user_code(vars(k).get("__getattr__")) for k in cls.__mro__)
    if isinstance(static, property):
        return True
    get = getattr(type(static), "__get__", None)
    return get is not None and _user_code(get)


def _dotted(node) -> List[str]:
    """``["np", "linalg", "norm"]`` for an Attribute chain on a Name (ir.dotted_name's parts), else []."""
    name = dotted_name(node)
    return name.split(".") if name else []


class _Pass:
    def __init__(self, fwd, others, active, rt_name, numpy_name, spelled, filename, namer, final_loads, known,
                 callees=None, outside=None):
        self.known = known      # the names of the function sct compiled (after normalizing)
        # per name of a helper's code (and the names its pair binds), the names of the generated code's globals
        # holding the plain arrays and lists its adjoint reads by name (Compiled.adjoint_reads): its call reads
        # them, and so does the adjoint that calls its backward
        self.outside = dict(outside or {})
        self.outside_names = {m for names in self.outside.values() for m in names}
        self.pairs: Set[str] = set()        # the backward functions of helpers not known here, per name
        self.pair_lines: Dict[str, int] = {}
        # per forward function of a helper's pair (``part_fwd``), its backward's name; per name of the residuals
        # of a call of one (``y_residuals`` of ``(y, y_residuals) = part_fwd(x, m)``), that backward's name: what
        # its adjoint reads through the residuals (``m.w``: its ``__sct_residual_reads__``) is kept by the caller
        self.bwd_of: Dict[str, str] = {}
        self.residual_of: Dict[str, str] = {}
        self.residual_args: Dict[str, List[str]] = {}
        # the helpers' code the generated code calls by name (``helper_fwd_0b84..(x, st)``): True where it may
        # change an array unseen (Compiled.unseen_writes); and the local names of a helper's forward
        self.callees = dict(callees or {})
        self.objects: Set[str] = set()
        self.getters: Dict[str, type] = {}
        # where a class of the user's with implicit code is within reach (sct/implicit_hooks.py): the names whose
        # use runs none (sct's, numpy's, modules), and per statement checked for that alone, the objects it uses
        self.hooks: frozenset = frozenset()
        self.plain: Set[str] = set()
        self.hooked: Dict[int, Tuple[str, ...]] = {}
        self.hooked_only: Set[int] = set()
        self.helpers: Set[str] = set()
        self.lists: Set[str] = set()        # the parameters and free names that hold a list (_sweep_checks)
        self.callbacks: Set[str] = set()    # the names holding code of the user's (_callbacks)
        self.fwd, self.rt, self.np = fwd, rt_name, numpy_name
        self._bind_callees(fwd)
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

    def _bind_callees(self, fwd) -> None:
        """The names ``(f, b) = (helper_fwd_.., helper_bwd_..) if rt.guard_holds(..) else rt.vjp_at(..)`` binds:
        opaque as the helper's code is; a pair made at run time (``rt.vjp_at``): code not known here, opaque."""
        for n in walk_nodes(fwd):
            if not (isinstance(n, gast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], gast.Tuple)):
                continue
            v = n.value.body if isinstance(n.value, gast.IfExp) else n.value
            if isinstance(v, gast.Tuple) and v.elts and isinstance(v.elts[0], gast.Name):
                runs = self.callees.get(v.elts[0].id, False)
            elif isinstance(v, gast.Call) and _dotted(v.func)[:1] == [self.rt] and \
                    _dotted(v.func)[-1:][0] in ("vjp_at", "vjp_method_at", "vjp_init_at"):
                runs = True
            else:
                continue
            for t in n.targets[0].elts[:1]:
                if isinstance(t, gast.Name):
                    self.callees[t.id] = self.callees.get(t.id, False) or runs
            if len(n.targets[0].elts) == 2 and all(isinstance(t, gast.Name) for t in n.targets[0].elts):
                self.bwd_of[n.targets[0].elts[0].id] = n.targets[0].elts[1].id
            if len(n.targets[0].elts) == 2 and isinstance(n.targets[0].elts[1], gast.Name) and \
                    not isinstance(v, gast.Tuple):
                # a pair made when the call first runs (a method of a global's object): its adjoint's reads known
                # then, from its backward function (rt.stale_kept's adjoints)
                self.pairs.add(n.targets[0].elts[1].id)
            for t, e in zip(n.targets[0].elts, v.elts if isinstance(v, gast.Tuple) else ()):
                if isinstance(t, gast.Name) and isinstance(e, gast.Name) and e.id in self.outside:
                    self.outside[t.id] = self.outside.get(t.id, ()) + self.outside[e.id]

    def with_outside(self, names: Set[str]) -> Set[str]:
        """``names`` and the globals the adjoints of the helpers among them read (``self.outside``)."""
        if not self.outside:
            return names
        return names | {m for n in names if n in self.outside for m in self.outside[n]}

    def _walk_of(self, s):
        """``items`` of ``seq = rt.as_sequence(items)`` (a for loop's walk of a name), else None."""
        v = s.value if isinstance(s, gast.Assign) else None
        if isinstance(v, gast.Call) and _dotted(v.func) == [self.rt, "as_sequence"] and len(v.args) == 1 and \
                isinstance(v.args[0], gast.Name):
            return v.args[0]
        return None

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
        names = self.with_outside(names)
        self.loads[name] = names
        self.recomputes[name] = recomputes
        return names

    # -- the forward code, in the order it runs (a loop's body twice: its next step follows) --
    def events(self, body, out, parent):
        for k, s in enumerate(body):
            if isinstance(s, (gast.For, gast.While)):
                if isinstance(s, gast.For) and self.hooks and _iter_hooks(self, s):
                    out.append(("iter", s, parent))     # (``for i in range(IDX)``: Idx.__index__)
                self.events(s.body, out, s.body)
                self.events(s.body, out, s.body)
                self.events(s.orelse, out, s.orelse)
            elif isinstance(s, gast.If):
                if (self.objects or self.getters) and _uses_object(self, gast.Expr(value=s.test)) or \
                        self.hooks and not isinstance(s.test, gast.Constant) and _test_hooks(self, s):
                    out.append(("test", s, parent))     # (``if c:``: C.__bool__, C.__len__)
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
        # (and the names a def or class statement binds, here or in a nested def: ``inner`` of ``def
        # outer(u): def inner(w): ...`` read there is no global; was: kept as one, a NameError, progtest 620255)
        self.bound, guarded = _bound_and_guarded(self.fwd)      # (one walk for both: nothing changes the tree
        self.bound |= params                                    # before the checks are inserted, below)
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
            elif kind == "iter":
                loads = {n.id for n in walk_nodes(s.iter) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load)}
            elif kind == "test":
                loads = {n.id for n in walk_nodes(s.test) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load)}
            loads = self.with_outside(loads)
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
                                        and _opaque(self, node))
            # (what each name read here was bound to: a field or an item read, where the name is the code's)
            reads_of_fields = {n for n in loads if self.read_from.get(n)}
            if node is not None:
                _note_bindings(self, node)
                for t in _targets(node) & self.pairs if isinstance(node, gast.Assign) else ():
                    self.pair_lines[t] = line
                residuals = _residuals_of(node, self.bwd_of)
                if residuals is not None:
                    self.residual_of[residuals[0]] = residuals[1]
                    self.pair_lines[residuals[0]] = line
                    # (the names it passes: what its residuals share memory with may be reached through them,
                    # ``model(x, PARAMS)`` reading ``p.get("w")``: rt.stale_kept's adjoints)
                    self.residual_args[residuals[0]] = sorted(
                        {a.id for a in node.value.args + [k.value for k in node.value.keywords]
                         if isinstance(a, gast.Name)} - {self.rt, self.np})
            info.append((line, loads, is_active, sweeps, opaque, final, reads_of_fields))
        first: Dict = {}
        last: Dict = {}
        for i, (kind, s, parent) in enumerate(events):
            if info[i][4]:
                first.setdefault((kind, id(s)), i)
                last[(kind, id(s))] = i
        # whether it may change an array unseen (its callers check around its call); a loop's walk of a name is
        # left out (a list's, an array's: the usual helper's loop; an object's __iter__ changing its caller's
        # array is checked where the caller's own code walks it)
        self.unseen = any(kind != "stmt" or self._walk_of(s) is None for kind, s in
                          (events[i][:2] for i in first.values()))
        self.sure: Dict[int, Set[str]] = {}
        self.wanted = {id(events[i][1]) for i in first.values()}
        self.surely_bound(self.fwd.body, set(params))
        bound = self.bound
        # the events that read a sweep or are the final return (what ``later`` gathers), and each event's
        # targets, found once (was: every event after and before each opaque one looked at again:
        # quadratic in a function of many opaque calls)
        reading = [j for j in range(len(events)) if info[j][3] or info[j][5]]
        final = set(self.final_loads)      # (and what the generated functions the adjoint calls read)
        for name in self.final_loads & set(self.generated):
            final |= self.loads[name]
        targets: List = [None] * len(events)
        for key, i in first.items():
            kind, s, parent = events[i]
            later: Set[str] = set()
            swept: Set[str] = set()         # (what the adjoint itself reads of them, not the return statement)
            recompute = False
            for j in reading[bisect.bisect_right(reading, i):]:
                for sweep in info[j][3]:
                    later |= self.loads[sweep]
                    swept |= self.loads[sweep]
                    recompute = recompute or self.recomputes[sweep]
                if info[j][5]:
                    later |= info[j][1] | final
                    swept |= final
            if not later:
                continue
            at_stake: Dict[str, int] = {}
            operands: Set[str] = set()      # the user's names a differentiated operation reads and its adjoint too
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
                        if is_active and (n in self.known or n in self.outside_names) and (n in swept or residual) and \
                                isinstance(events[j][1], gast.Assign):      # (not sct's own guards)
                            operands.add(n)
            pairs = sorted(n for n in (self.pairs | set(self.residual_of)) & later if n in self.pair_lines)
            if at_stake or pairs:
                _insert(self, kind, s, parent, at_stake, info[i][0], bound, operands, pairs)
        _sweep_checks(self, events, info, active)


# sct's runtime calls that run an object's own code as Python would (``str(M)``: its ``__str__``)
_RT_TEXT = frozenset(("as_sequence", "text_operand", "str_as_numpy", "repr_as_numpy", "ascii_as_numpy"))


def _note_bindings(p: _Pass, s) -> None:
    """Note what ``s`` binds: a name read from something outside (``bn_rv = bn.rv``: ``p.read_from``), a view
    (``p.views``)."""
    if not isinstance(s, gast.Assign):
        return
    v = s.value
    # a field or an item read from something (``bn_rv = bn.rv``), or a traced value's own numbers: a
    # recomputation reads it again as the first run left it (what the function made, it makes anew)
    base = v.value if isinstance(v, (gast.Attribute, gast.Subscript)) else \
        v.args[0] if isinstance(v, gast.Call) and _dotted(v.func)[-1:] == ["extractdata"] and v.args else None
    read = isinstance(base, gast.Name) and (base.id not in p.bound or base.id in p.params or
                                         p.read_from.get(base.id, False))
    view = isinstance(v, gast.Call) and (
        isinstance(v.func, gast.Attribute) and v.func.attr in _VIEW_METHODS and
        not (isinstance(v.func.value, gast.Name) and v.func.value.id == p.rt) or
        _dotted(v.func)[:1] == [p.np] and _dotted(v.func)[-1] in _NUMPY_VIEWS or
        _opaque(p, gast.Expr(value=v)))        # (``t = rt.maybe_effect(G.view)``: what it gives may be one)
    for t in s.targets:
        for n in walk_nodes(t):
            if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store):
                p.read_from[n.id] = read     # (the binding the code that follows reads)
                if view:
                    p.views.add(n.id)


def _uses_object(p: _Pass, s) -> bool:
    """Whether the statement uses a parameter of ``protocol_objects`` otherwise than reading its field
    (was: ``n = len(c)``, ``if c:``, ``list(c)`` of a container whose __len__/__bool__/__iter__ rescaled an
    array read before were taken for no call, a silently wrong gradient)."""
    parents = {}
    for n in walk_nodes(s):
        for c in gast.iter_child_nodes(n):
            parents[id(c)] = n
    for n in walk_nodes(s):
        if isinstance(n, gast.Name) and n.id in p.getters and isinstance(n.ctx, gast.Load):
            up = parents.get(id(n))
            if isinstance(up, gast.Attribute) and up.value is n and isinstance(up.ctx, gast.Load) and \
                    runs_getter(p.getters[n.id], up.attr):
                return True     # (``sched.lr``: a property's getter)
        if isinstance(n, gast.Name) and n.id in p.objects and isinstance(n.ctx, gast.Load):
            up = parents.get(id(n))
            if isinstance(up, gast.Attribute) and up.value is n:
                continue
            if isinstance(up, gast.Call) and _dotted(up.func)[:1] == [p.rt] and \
                    _dotted(up.func)[-1] not in _RT_TEXT:
                continue        # (sct's runtime: what it reads of the object it reads as Python would not)
            if isinstance(s, gast.Assign) and up is s:
                continue        # (``c_1 = c``: the name bound again)
            if isinstance(up, gast.Call) and isinstance(up.func, gast.Name) and up.func.id in p.callees and \
                    up.func is not n:
                continue        # (passed to a helper sct compiled: its own uses are its own, unseen_writes)
            return True
    return False


def _iter_hooks(p: _Pass, s) -> bool:
    """A for loop's ``range(...)`` or what it walks: where it may run code of the user's (``__index__``)."""
    found = hook_subjects(gast.Expr(value=s.iter), p.plain, p.rt, p.hooks)
    if isinstance(s.iter, gast.Name) and s.iter.id not in p.plain and runs_hook(s, s.iter, p.hooks):
        found = (s.iter.id,)
    if found is not None and found is not True:
        p.hooked[id(s)] = found
    return found is not None


def _test_hooks(p: _Pass, s) -> bool:
    """``if c:`` where c's truth may run a ``__bool__`` of the user's (checked where c's class has one)."""
    if not runs_hook(s, s.test, p.hooks):
        return False
    if isinstance(s.test, gast.Name):
        if s.test.id in p.plain:
            return False
        p.hooked[id(s)] = (s.test.id,)
    return True


def _opaque(p: _Pass, s) -> bool:
    """Whether ``s`` may run code sct cannot look into: a call (:func:`_opaque_call`), or code of the user's
    it runs implicitly (a property, an operator's method, ``__index__``: sct/implicit_hooks.py)."""
    if _opaque_call(p, s):
        return True
    found = hook_subjects(s, p.plain, p.rt, p.hooks, p.helpers) if p.hooks else None
    if found is None:
        return False
    if found is True:
        p.hooked_only.add(id(s))
    else:
        p.hooked[id(s)] = found
    return True


def _opaque_call(p: _Pass, s) -> bool:
    if (p.objects or p.getters) and _uses_object(p, s):
        return True
    targets = s.targets if isinstance(s, gast.Assign) else [s.target] if isinstance(s, gast.AugAssign) else []
    for t in targets:
        if isinstance(t, gast.Attribute) and not (isinstance(t.value, gast.Name) and t.value.id == p.rt):
            return True         # ``G.flat = v``, a property's setter
        if isinstance(t, gast.Subscript) and isinstance(t.value, gast.Name) and t.value.id in p.views:
            return True         # ``G.reshape(3)[1] = v``: into a view the compiler took for a new array
    for n in walk_nodes(s):
        if not isinstance(n, gast.Call):
            continue
        parts = _dotted(n.func)
        if not parts:
            return True         # a call of a call's result, of an item
        if parts[0] == p.rt:
            if len(parts) == 2 and parts[1] in _OPAQUE_RT:
                return True
            continue
        if p.callbacks and parts[0] not in p.callees and parts[0] not in p.generated and \
                any(isinstance(m, gast.Name) and m.id in p.callbacks
                    for a in n.args + [k.value for k in n.keywords] for m in walk_nodes(a)):
            # a function of the user's given to a library's (``sorted(v, key=f)``, ``functools.reduce(f, ..)``,
            # ``np.apply_along_axis(f, ..)``, ``np.fromfunction``, ``np.piecewise``): it runs the user's code
            # (was: taken for no such call, ``f`` doing ``A[0] += 1`` after ``np.sum(x * A)`` gave [4, 2]
            # where Python's derivative is [2, 2], red57a W3)
            return True
        if len(parts) == 1 and p.callees.get(parts[0], False):
            # a helper sct compiled that calls such code (was: ``z = helper(x, st)`` of a helper calling
            # ``reweight(st)`` was taken for no such call, the adjoint of ``x * st["w"]`` before it read the
            # reweighted array: a silently wrong gradient)
            return True
        if parts[0] == p.np:
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


def _insert(p: _Pass, kind, s, parent, at_stake, line, bound, operands=(), pairs=()) -> None:
    from .ir import assign, call, const, load, expr_stmt
    names = sorted(at_stake)
    kept = p.namer.fresh("stale_kept")
    rt = lambda f: gast.Attribute(value=load(p.rt), attr=f, ctx=gast.Load())
    strings = lambda items: gast.Tuple(elts=[const(n) for n in items], ctx=gast.Load())
    sure = set(p.sure.get(id(s), ()))
    if kind == "exit":      # (at the end of the with block's body)
        for t in s.body:
            sure |= _targets(t)
    names = [n for n in names if n not in bound or n in sure]
    pairs = [n for n in pairs if n in sure and p.residual_of.get(n, n) in sure]
    # (a backward whose residuals are kept too: its entry with them reads what it reads)
    pairs = [n for n in pairs if n in p.residual_of or n not in {p.residual_of[r] for r in pairs
                                                                    if r in p.residual_of}]
    if not names and not pairs:
        return      # (a name bound later in a loop's body, or in a branch: it may be unbound here)
    walked = p._walk_of(s) if kind == "stmt" else None
    # (what an adjoint reads as an operand, ``operands=(W,)``: kept there where it is a plain list, not sct's
    # tape nor a log list the code reads otherwise, rt.stale_kept)
    lists = [n for n in names if n in operands]
    operands = [gast.keyword(arg="operands", value=gast.Tuple(elts=[load(n) for n in lists], ctx=gast.Load()))
                ] if lists else []
    if pairs:       # (what the adjoints of the helpers compiled when they ran read: their __sct_adjoint_reads__)
        operands.append(gast.keyword(arg="adjoints", value=gast.Tuple(elts=[
            gast.Tuple(elts=[load(p.residual_of[n]), const(p.pair_lines[n]), load(n)] +
                       _passed(p, n, sure) if n in p.residual_of
                       else [load(n), const(p.pair_lines[n])], ctx=gast.Load()) for n in pairs],
            ctx=gast.Load())))
    subjects = p.hooked.get(id(s)) if walked is None and kind in ("stmt", "test", "iter") else None
    take = assign(kept, call(rt("stale_kept_walk"), [load(walked.id)] + [load(n) for n in names], operands)
                  if walked is not None else call(rt("stale_kept"), [load(n) for n in names], operands)
                  if subjects is None else
                  call(rt("stale_kept_hooked"), [gast.Tuple(elts=[load(n) for n in subjects], ctx=gast.Load())] +
                       [load(n) for n in names], operands))
    implicit = "code of the user's this line runs implicitly (a property, an operator's method, __index__...)"
    what = {"test": "this if statement's test", "iter": implicit, "enter": "this with statement's context manager",
            "exit": "this with statement's context manager"}.get(kind) or (
        "this for loop's walk of what it iterates" if walked is not None else
        implicit if subjects is not None or id(s) in p.hooked_only else "this call")
    check = expr_stmt(call(rt("stale_check"), [
        load(kept), strings([p.spelled.get(n, n) for n in names]),
        gast.Tuple(elts=[const(at_stake[n]) for n in names], ctx=gast.Load()),
        const(what), const(p.filename), const(line)]))
    k = next(k for k, t in enumerate(parent) if t is s)
    if kind == "stmt":
        parent[k:k + 1] = [take, s, check]
    elif kind == "test":
        parent.insert(k, take)
        s.body.insert(0, check)
        s.orelse.insert(0, copy.deepcopy(check))
    elif kind == "iter":      # (checked once, after the range is made: at the body's start, or after the loop)
        parent.insert(k, take)
        s.body[0:0] = [check, assign(kept, const(None))]
        parent.insert(k + 2, copy.deepcopy(check))
    elif kind == "enter":
        parent.insert(k, take)
        s.body.insert(0, check)
    else:
        parent.insert(k, assign(kept, const(None)))
        s.body.append(take)
        parent.insert(k + 2, check)


def _passed(p: _Pass, residuals: str, sure: Set[str]) -> list:
    """``[(name, value), ...]`` of what the call of a helper's forward that gave ``residuals`` passed it by name
    (those surely bound here), an adjoints entry's last item (rt.stale_kept), or []."""
    from .ir import const, load
    names = [a for a in p.residual_args.get(residuals, ()) if a in sure or a not in p.bound]
    if not names:
        return []
    return [gast.Tuple(elts=[gast.Tuple(elts=[const(p.spelled.get(a, a)), load(a)], ctx=gast.Load())
                             for a in names], ctx=gast.Load())]


_PARAMETER = object()      # (the root of a path read from a parameter: _residual_reads)


def _residual_reads(checks: _Pass, fwd, namespace) -> tuple:
    """A helper's backward's ``__sct_residual_reads__``: where its residuals hold what its adjoint reads of its
    parameters' objects (``("value", k, "self.w")``: ``self.w``, ``m.w.T``, ``cfg["w"][0]``, the array or its view,
    is the residuals' item k) and the backward and residuals of a helper it calls (``("pair", i, j)``), for its
    caller's check around code run between the call and the gradient (rt.stale_kept's adjoints; was: not checked,
    ``y = LAYER(x)`` of a ``__call__`` reading ``self.w``, then ``W[0] += 1``: [3, 2] where Python's derivative
    is [2, 2], red57a W1)."""
    returns = [n for n in walk_nodes(fwd) if isinstance(n, gast.Return)]
    if len(returns) != 1 or not (isinstance(returns[0].value, gast.Tuple) and len(returns[0].value.elts) == 2 and
                                 isinstance(returns[0].value.elts[1], gast.Tuple)):
        return ()
    elts = returns[0].value.elts[1].elts
    position = {e.id: k for k, e in enumerate(elts) if isinstance(e, gast.Name)}
    paths = _field_paths(checks, fwd, namespace, params=True)
    out = [("value", k, checks.spelled.get(e.id, e.id)) for k, e in enumerate(elts)
           if isinstance(e, gast.Name) and e.id in paths]
    out += [("pair", position[b], position[r]) for r, b in sorted(checks.residual_of.items())
            if r in position and b in position]
    return tuple(out)


def _residuals_of(node, bwd_of):
    """``(residuals' name, backward's name)`` of ``(y, y_residuals) = part_fwd(x, m)``, a call of a helper's pair
    forward (``bwd_of``), else None."""
    if not (isinstance(node, gast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], gast.Tuple) and
            len(node.targets[0].elts) == 2 and isinstance(node.targets[0].elts[1], gast.Name) and
            isinstance(node.value, gast.Call) and isinstance(node.value.func, gast.Name) and
            node.value.func.id in bwd_of):
        return None
    return node.targets[0].elts[1].id, bwd_of[node.value.func.id]


def _sweep_checks(p: _Pass, events, info, active) -> None:
    """Right before a gradient's sweep (``d = f_dlgradient_line9(...)``, at the top level of the forward code),
    check that each plain list of numbers the sweep reads as an operand by name (``y = np.sum(x * W)`` of a global
    ``W = [2.0, 2.0]``: ``d_y * W``) still holds the numbers the operation read at the top level before it
    (``rt.list_kept`` after the read): whatever changed it in between, code of the user's that Python ran
    implicitly too (``CFG.sched.lr``'s property, ``D["s"][0]``'s ``__getitem__``: was the changed numbers as the
    gradient, red2_56 W4), is refused there.  Arrays are not copied here (their reads are checked around the calls
    that may change them, above): a list's items are references, kept at no cost of the list's numbers."""
    from .ir import assign, call, const, load, expr_stmt
    top = p.fwd.body
    kept: Dict[str, Tuple[str, int, object]] = {}      # per list: the name keeping it, the read's line and statement
    checked: Set[str] = set()       # (checked by a sweep: a later read keeps it anew, what the next sweep reads)
    checks, used = [], []
    for j, (kind, s, parent) in enumerate(events):
        if kind != "stmt" or parent is not top:
            continue
        line, loads, is_active, sweeps = info[j][:4]
        if sweeps:
            swept = set().union(*(p.loads[sweep] for sweep in sweeps))
            names = sorted(n for n in kept if n in swept)
            if names:
                checks.append((s, [kept[n] for n in names], [p.spelled.get(n, n) for n in names], line))
                used.extend(kept[n] for n in names)
                checked |= set(names)
        if is_active and isinstance(s, gast.Assign):
            for n in sorted(loads):
                if n in p.lists and n not in active and (n not in kept or n in checked) and n not in _targets(s):
                    kept[n] = (p.namer.fresh("list_kept"), line, s, n)
                    checked.discard(n)
    rt = lambda f: gast.Attribute(value=load(p.rt), attr=f, ctx=gast.Load())
    for entry in {e[0]: e for e in used}.values():
        name, _line, s, n = entry
        k = next(k for k, t in enumerate(top) if t is s)
        top.insert(k + 1, assign(name, call(rt("list_kept"), [load(n)])))
    for s, entries, names, line in checks:
        k = next(k for k, t in enumerate(top) if t is s)
        top.insert(k, expr_stmt(call(rt("stale_check"), [
            gast.Tuple(elts=[load(e[0]) for e in entries], ctx=gast.Load()),
            gast.Tuple(elts=[const(n) for n in names], ctx=gast.Load()),
            gast.Tuple(elts=[const(e[1]) for e in entries], ctx=gast.Load()),
            const("code run between that operation and this gradient"), const(p.filename), const(line)])))


def _bound_and_guarded(fwd) -> Tuple[Set[str], bool]:
    """(the names ``fwd`` stores or has as parameters, and those its def and class statements
    bind, here or in nested defs; whether it reads a ``recompute_guard`` attribute), from one walk."""
    bound: Set[str] = set()
    guarded = False
    Name, Attribute, defs, binding = gast.Name, gast.Attribute, \
        (gast.FunctionDef, gast.AsyncFunctionDef, gast.ClassDef), (gast.Store, gast.Param)
    for n in walk_nodes(fwd):
        cls = n.__class__
        if cls is Name:
            if isinstance(n.ctx, binding):
                bound.add(n.id)
        elif cls is Attribute:
            if n.attr == "recompute_guard":
                guarded = True
        elif isinstance(n, defs) and n is not fwd:
            bound.add(n.name)
    return bound, guarded


def _targets(s) -> Set[str]:
    if isinstance(s, gast.Assign):
        return {n.id for t in s.targets for n in walk_nodes(t) if isinstance(n, gast.Name)}
    return set()


def _temporaries_spelled(fdef, spelled, filename) -> Dict[str, str]:
    """The user's text of the calls and conditional expressions the normalizer named (``y_get`` for ``P.get("w")``,
    ``y_get_w`` for ``get_w()``, ``y_t`` for ``W if flag else 1.0``): bound once, and a name the user's line does
    not hold (was: messages naming ``y_get.copy()``, red57b R1)."""
    from .parse import source_line
    values: Dict[str, list] = {}
    for n in walk_nodes(fdef):
        if isinstance(n, gast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], gast.Name):
            values.setdefault(n.targets[0].id, []).append(n)
    out: Dict[str, str] = {}
    for n in walk_nodes(fdef):          # (``W if c else 1.0``, which the normalizer wrote as an if statement)
        if isinstance(n, gast.If) and len(n.body) == 1 and len(n.orelse) == 1 and \
                all(isinstance(b, gast.Assign) and len(b.targets) == 1 and isinstance(b.targets[0], gast.Name)
                    for b in n.body + n.orelse) and n.body[0].targets[0].id == n.orelse[0].targets[0].id and \
                len(values.get(n.body[0].targets[0].id, ())) == 2:
            joined = gast.IfExp(test=n.test, body=n.body[0].value, orelse=n.orelse[0].value)
            values[n.body[0].targets[0].id] = [gast.copy_location(gast.Assign(
                targets=n.body[0].targets, value=joined, type_comment=None), n)]

    def text(name: str, depth: int) -> str:
        if name in spelled:
            return spelled[name]
        if name in out or depth > 6:
            return out.get(name, name)
        binds = values.get(name, ())
        if len(binds) != 1 or not isinstance(binds[0].value, (gast.Call, gast.IfExp, gast.Subscript, gast.Attribute)) or \
                "_" not in name:
            return name
        line = source_line(filename, getattr(binds[0], "lineno", 0) or 0) or ""
        if not line or re.search(r"(?<![\w.])" + re.escape(name) + r"\b", line):
            return name
        value = copy.deepcopy(binds[0].value)
        for m in gast.walk(value):
            if isinstance(m, gast.Name) and isinstance(m.ctx, gast.Load):
                m.id = text(m.id, depth + 1)
        try:
            import ast
            out[name] = ast.unparse(gast.gast_to_ast(value))
            if isinstance(value, gast.IfExp):
                out[name] = f"({out[name]})"         # (then ``(W if c else 1.0).copy()``)
        except Exception:
            return name
        return out[name]
    for name in values:
        text(name, 0)
    return out


def stale_read_checks(generated, fdef, active, rt_name, numpy_name, spelled, filename, namer, vjp: bool,
                      records=(), param_kinds=None, namespace=None, fn=None) -> Tuple[bool, tuple]:
    """Add the checks to the generated forward function (``generated.entry``); ``records``: the call tree's
    (sct/call_tree.py CallRecord: the names a helper's code is called by, and whether it may change an array
    unseen).  Whether the forward may: a call sct cannot look into, a with block, a write through a view
    (``Compiled.unseen_writes``: a caller checks around its call; was: a helper writing ``W.reshape(-1)[:] = v``
    or calling ``reweight(st)`` was taken for none, a silently wrong gradient of the caller's read before); and
    (VJP mode) the plain arrays and lists its adjoint reads by name, its helpers' included
    (``Compiled.adjoint_reads``: a caller keeps and checks them around its own calls as its own reads, bound in
    ``namespace``, the generated code's globals; was: ``def part(x): return np.sum(x * W)`` called before
    ``bump()`` doing ``W[0] += 1``: the gradient [3, 2] where Python's is [2, 2])."""
    functions = [f for f in generated.functions if isinstance(f, gast.FunctionDef)]
    fwd = next((f for f in functions if f.name == generated.entry), None)
    if fwd is None:
        return True, (), ()
    others = [f for f in functions if f is not fwd]
    final = set()
    if vjp and generated.bwd is not None:
        final = {"__return__"}
        # (and the globals the adjoint reads by name: ``rt.reduction_times_like(d_L, L_mul, .., G, L_pow)``
        # reads G when the caller's gradient runs, not through the residuals; was: a user method called
        # after ``np.sum(G * x**3)`` in a helper doubling G in place was checked for no read, a silently
        # wrong gradient, where the entry function's own read was checked)
        bwd = next((f for f in others if f.name == generated.bwd), None)
        if bwd is not None:
            names = [n for n in walk_nodes(bwd) if isinstance(n, gast.Name)]
            final |= {n.id for n in names if isinstance(n.ctx, gast.Load)} - \
                {n.id for n in names if not isinstance(n.ctx, gast.Load)}      # (its locals: the residuals' own)
    known = {n.id for n in walk_nodes(fdef) if isinstance(n, gast.Name)}
    namespace = {} if namespace is None else namespace
    spelled = dict(spelled)
    spelled.update(_temporaries_spelled(fdef, spelled, filename))
    callees, outside, named = {}, {}, {}
    bound = None
    for r in records or ():
        if r is not None and r.names:
            runs = r.compiled is None or getattr(r.compiled, "unseen_writes", True)
            reads = getattr(r.compiled, "adjoint_reads", ()) if r.compiled is not None else ()
            if reads and bound is None:
                bound = _bound_and_guarded(fwd)[0]
            reads = tuple(_outside_name(namespace, namer, spelled, named, bound, name, value) for name, value in reads)
            for name in r.names:
                callees[name] = callees.get(name, False) or runs
                if reads:
                    outside[name] = outside.get(name, ()) + reads
    checks = _Pass(fwd, others, active, rt_name, numpy_name, spelled, filename, namer, final, known, callees,
                   outside)
    free_values = _outside_values(fn, fwd) if fn is not None else {}
    checks.objects = protocol_objects(param_kinds, free_values) | _factory_dicts(free_values)
    checks.objects |= _holding(fwd, checks.objects)
    checks.getters = getter_objects(param_kinds, free_values)
    checks.hooks = hooks_within_reach(fn, param_kinds, free_values)
    if checks.hooks:
        checks.plain = {rt_name, numpy_name} | set(checks.generated) | set(active) | \
            {n for n, v in free_values.items() if isinstance(v, (types.ModuleType, types.BuiltinFunctionType,
                                                                 types.FunctionType))} | \
            {n.id for n in walk_nodes(fwd) if isinstance(n, gast.Name) and n.id.startswith("__sct_")} | \
            _sct_names(fwd, checks.callees, free_values)
        checks.helpers = set(checks.callees) | {n for n in checks.plain if n.endswith("_fwd")}
        checks.plain |= plain_locals(fwd, checks.plain, rt_name)
    checks.callbacks = _callbacks(fwd, free_values, param_kinds)
    checks.lists = {n for n, v in free_values.items() if type(v) is list} | \
        {n for n, k in (param_kinds or {}).items() if isinstance(k, tuple) and k[:2] == ("seq", list)}
    checks.run()
    if not vjp:
        return checks.unseen, (), ()
    return checks.unseen, _adjoint_reads(checks, fwd, final, namespace, _defaults(fn)), \
        _residual_reads(checks, fwd, namespace)


def _factory_dicts(free_values) -> Set[str]:
    """The free names holding a defaultdict whose ``default_factory`` is code of the user's: reading a missing key
    runs it (``a = DD["k"]``; was: taken for no call, a factory changing an array read before gave [3, 2] where
    Python's derivative is [2, 2], red57b W2)."""
    import collections
    import functools
    from .runtime.effects import _user_code as runs_user_code
    out = set()
    for name, v in free_values.items():
        f = getattr(v, "default_factory", None) if isinstance(v, collections.defaultdict) else None
        f = f.func if isinstance(f, functools.partial) else f
        if f is not None and not isinstance(f, type) and runs_user_code(f):
            out.add(name)
    return out


def _holding(fwd, objects: Set[str]) -> Set[str]:
    """The names the forward binds to a list, tuple, set or dict display holding one of ``objects``: comparing
    with their items runs the object's ``__eq__`` (``3 in [M]``; was: taken for no call, red57b W2)."""
    if not objects:
        return set()
    made = [(n.targets[0].id, {m.id for m in walk_nodes(n.value) if isinstance(m, gast.Name)})
            for n in walk_nodes(fwd) if isinstance(n, gast.Assign) and len(n.targets) == 1 and
            isinstance(n.targets[0], gast.Name) and isinstance(n.value, (gast.List, gast.Tuple, gast.Dict, gast.Set))]
    out: Set[str] = set()
    for _ in range(3):
        out |= {name for name, names in made if names & (objects | out)}
    return out


def _defaults(fn) -> Dict[str, object]:
    """The defaults of ``fn``'s parameters, by name: what the adjoint reads of a parameter the call leaves to its
    default (``def part(x, w=W)``: ``W``, read by the caller's check as a global is; was: not checked, red57a W1).
    (Kept also where a call passes the parameter: a check of the default's numbers, refused only where code
    changes them in place between the operation and its gradient.)"""
    import inspect
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return {}
    return {p.name: p.default for p in params if p.default is not p.empty}


def _callbacks(fwd, free_values, param_kinds) -> Set[str]:
    """The names that hold code of the user's a library function given it may call: the functions (and lambdas)
    the forward defines, the globals and closure values holding a function, method, class, callable object or
    partial of the user's, the parameters holding a function or a method."""
    import functools
    import inspect
    from .runtime.effects import _user_code as runs_user_code

    def user(v):      # (not a class: ``isinstance(v, Cls)``; read without running a ``__getattr__`` of the user's:
        # compiling ran it, a change it made was Python's no more, red57b t5 c_isinstance)
        return user(v.func) if isinstance(v, functools.partial) else \
            not isinstance(v, type) and runs_user_code(v) and not inspect.getattr_static(v, "__sct_generated__", False)
    out = {n.name for n in walk_nodes(fwd) if isinstance(n, gast.FunctionDef) and n is not fwd}
    out |= {n for n, v in free_values.items() if user(v)}
    out |= {n for n, k in (param_kinds or {}).items() if isinstance(k, tuple) and len(k) > 1 and
            (k[:2] in (("const", types.FunctionType), ("const", types.MethodType), ("obj", functools.partial)))}
    if out:     # (and the lists, tuples and dicts the forward makes of them: ``np.piecewise(v, conds, [f, g])``)
        made = [(n.targets[0].id, {m.id for m in walk_nodes(n.value) if isinstance(m, gast.Name)})
                for n in walk_nodes(fwd) if isinstance(n, gast.Assign) and len(n.targets) == 1 and
                isinstance(n.targets[0], gast.Name) and isinstance(n.value, (gast.List, gast.Tuple, gast.Dict, gast.Set))]
        for _ in range(3):
            out |= {name for name, names in made if names & out}
    return out


def _outside_name(namespace, namer, spelled, named, bound, name: str, value) -> str:
    """The name of the generated code's global holding ``value``, which a helper's adjoint reads as the global
    ``name``: that name where the code reads the same global (and binds no local of it), else a fresh one."""
    if id(value) in named:
        return named[id(value)]
    if namespace.get(name, None) is value and name not in bound:
        out = name
    else:
        out = namer.fresh(re.sub(r"\W", "_", name) + "_outside")
        namespace[out] = value
        spelled[out] = name
    named[id(value)] = out
    return out


def _adjoint_reads(checks: _Pass, fwd, final: Set[str], namespace, defaults=None) -> tuple:
    """``Compiled.adjoint_reads``: the user's globals (and closure values) the adjoint reads by name, its helpers'
    included, that hold a plain array or a list: what the caller keeps and checks around its own calls."""
    from .runtime.dlarray import dlarray
    names = set(final)
    for name in final & set(checks.generated):
        names |= checks.loads[name]
    for n in walk_nodes(fwd):       # (the helpers' pairs its residuals hand to the adjoint)
        if isinstance(n, gast.Return):
            names |= {m.id for m in walk_nodes(n) if isinstance(m, gast.Name)}
    names = checks.with_outside(names)
    paths = _field_paths(checks, fwd, namespace) if names & checks.bound else {}
    out, seen = [], set()
    for n in sorted(names):
        value = namespace.get(n, None) if n not in checks.bound else \
            (defaults or {}).get(n) if n in checks.params else paths.get(n)
        if (n in checks.known or n in checks.outside_names) and id(value) not in seen and \
                (type(value) in (list, FieldPath) or isinstance(value, np.ndarray) and not isinstance(value, dlarray)):
            seen.add(id(value))
            out.append((checks.spelled.get(n, n), value))
    return tuple(out)


def _field_paths(checks: _Pass, fwd, namespace, params: bool = False) -> Dict[str, FieldPath]:
    """Per name the forward binds once to a field or an item of a global's object (``CFG_w = CFG.w``,
    ``P_w = P["w"]``, a chain of them) or to a view of a global's array (``W_T = W.T``, ``a = A[0]``,
    ``A.reshape(2)``, ``np.asarray(A)[:, 0]``, ``CFG.w.T``), the path it reads (the adjoint reads the name through
    the residuals; a view's numbers are its array's: FieldPath keeps that array, so a write through the array or
    through any view of it is seen; was: only a bare field or item, ``x @ W.T`` in a helper then ``W[0, 0] += 1``
    before the gradient gave [3, 2] where Python's derivative is [2, 2], red57a W1)."""
    stores: Dict[str, int] = {}
    for n in walk_nodes(fwd):
        if isinstance(n, gast.Name) and not isinstance(n.ctx, gast.Load):
            stores[n.id] = stores.get(n.id, 0) + 1
    paths: Dict[str, FieldPath] = {}
    shown: Dict[str, str] = {}
    for n in walk_nodes(fwd):
        if not (isinstance(n, gast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], gast.Name) and
                stores.get(n.targets[0].id) == 1 and isinstance(n.value, (gast.Attribute, gast.Subscript, gast.Call))):
            continue
        got = _path_read(checks, n.value, paths, shown, namespace, params)
        if got is None or not got[1] or (got[0] is _PARAMETER) != params:
            continue
        root, steps, text = got
        paths[n.targets[0].id] = FieldPath(root, steps)
        shown[n.targets[0].id] = text
        checks.spelled[n.targets[0].id] = text      # (in its caller's messages: the path the user wrote)
    return paths


def _path_read(checks: _Pass, v, paths, shown, namespace, params: bool = False):
    """(the global's value, the steps, the user's spelling) of what ``v`` reads from a global (or a closure value):
    its fields and items, and a view of an array reached so (``FieldPath.VIEW``, the last step), else None;
    ``params``: from a parameter too (its root ``_PARAMETER``)."""
    if isinstance(v, gast.Name):
        if v.id in paths:
            return paths[v.id].root, paths[v.id].steps, shown[v.id]
        if v.id not in checks.bound and v.id in checks.known and v.id in namespace or params and v.id in checks.params:
            return namespace.get(v.id) if v.id not in checks.params else _PARAMETER, (), checks.spelled.get(v.id, v.id)
        return None
    parts = _dotted(v.func) if isinstance(v, gast.Call) else []
    if isinstance(v, gast.Attribute):
        base, step, text = v.value, (True, v.attr), "." + v.attr
    elif isinstance(v, gast.Subscript) and isinstance(v.slice, gast.Constant) and type(v.slice.value) in (str, int):
        base, step, text = v.value, (False, v.slice.value), f"[{v.slice.value!r}]"
    elif isinstance(v, gast.Subscript):
        base, step, text = v.value, FieldPath.VIEW, ""        # (a slice: a view, or numbers copied from it)
    elif parts[:1] == [checks.np]:
        if parts[-1] not in _NUMPY_VIEWS or not v.args:
            return None
        base, step, text = v.args[0], FieldPath.VIEW, ""
    elif isinstance(v, gast.Call) and isinstance(v.func, gast.Attribute) and v.func.attr in _VIEW_METHODS and \
            parts[:1] != [checks.rt]:
        base, step, text = v.func.value, FieldPath.VIEW, ""
    else:
        return None
    got = _path_read(checks, base, paths, shown, namespace, params)
    if got is None or got[1][-1:] == (FieldPath.VIEW,):
        return got          # (a view of a view: the same array's numbers)
    return got[0], got[1] + (step,), got[2] + text


def _sct_names(fwd, callees, free_values) -> Set[str]:
    """The generated code's own globals it reads (a helper's compiled code and its name, its guard, its call
    site): no object of the user's."""
    bound = _bound_and_guarded(fwd)[0]
    return {n.id for n in walk_nodes(fwd) if isinstance(n, gast.Name) and n.id not in bound and
            n.id not in free_values and (n.id in callees or n.id.endswith(("_guard", "_site", "_fwd", "_bwd")))}


def outside_roots(generated, fn) -> tuple:
    """A helper's backward's ``__sct_outside_roots__``: ``(name, value)`` of the globals and closure values its
    forward reads by name (not modules, not numpy's or sct's), where the caller's check looks for arrays its
    residuals share memory with, whatever form the helper read them by (rt.stale_kept's adjoints: red57b W1)."""
    from .runtime.origins import module_top
    fwd = next((f for f in generated.functions if isinstance(f, gast.FunctionDef) and f.name == generated.entry),
               None)
    if fwd is None or fn is None:
        return ()
    from .rt_namespace import RT
    return tuple((n, v) for n, v in sorted(_outside_values(fn, fwd).items())
                 if not n.startswith("__sct_") and v is not RT and       # (sct's own: its namespace, its reads;
                 (isinstance(v, np.ndarray) or                           # walking them cost 20 % of a compile)
                 not isinstance(v, (types.ModuleType, bool, int, float, complex, str, type(None))) and
                 module_top(v if isinstance(v, (type, types.FunctionType)) else type(v)) not in
                 ("numpy", "sct", "sct_generated")))


def _outside_values(fn, fwd) -> Dict[str, object]:
    """The values of the globals and closure values the generated forward reads by a name it does not bind."""
    import inspect
    try:
        free = inspect.getclosurevars(fn)
    except (TypeError, ValueError):
        return {}
    values = {**free.builtins, **free.globals, **free.nonlocals}
    bound, _ = _bound_and_guarded(fwd)
    names = {n.id for n in walk_nodes(fwd) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load)}
    return {n: values[n] for n in names - bound if n in values}
