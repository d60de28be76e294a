"""The forward code: the user's normalized function, recording on the tape what the sweeps
restore inside loops and branches, and calling the sweeps at the sites.
"""
from __future__ import annotations

import copy
from types import SimpleNamespace
from typing import List, Set, Tuple

import gast
import numpy as np

from .runtime import registry

from .calls import CallLowering
from .generation import EmitPass, Generation
from .ir import assign, attr, call, const, dotted, load, store, expr_stmt, shared_fact, walk_nodes
from .analysis import Dependence, leaf_kind
from .plans import CallKind, Mode
from .templates import _function, _is_comment


class ForwardCode(EmitPass):
    """The forward function: the user's code with the tape records, counters, sweep calls and
    helper pairs (``calls``) put in."""

    def __init__(self, gen: Generation, calls: CallLowering):
        super().__init__(gen)
        self.calls = calls
        self._in_forward = False                # writing the forward function (not a prefix)
        self.nested_counters: Set[str] = set()  # loop counters of loops inside compounds
        self.residuals: Tuple[str, ...] = ()     # what a VJP forward hands its adjoint

    # --- forward ------------------------------------------------------------------------------------
    def forward_function(self, residuals: Tuple[str, ...] = ()) -> gast.FunctionDef:
        """The forward function; ``residuals``: what it returns for the adjoint (VJP mode)."""
        self.residuals = residuals
        self._in_forward = True
        try:
            body = self.forward_block(self.gen.fdef.body, 0)
        finally:
            self._in_forward = False
        head: List = self.recompute_guard(self.gen.fdef.body)
        if self.gen.site_records:         # recomputing sweeps replay this call's effects
            head.append(assign(self.gen.effects_start, call(self.rt("effect_position"))))
        if self.gen.uses_tape:
            head.append(assign(self.gen.tape, gast.List(elts=[], ctx=gast.Load())))
            head.extend(self.unbound_inits())
        name = self.gen.fname if self.gen.mode == Mode.ENTRY else self.namer.fresh(self.gen.fname + "_fwd")
        return _function(name, list(self.gen.params), head + body, self.gen.kwonly, self.gen.vararg,
                         self.gen.kwarg)

    def recompute_guard(self, body: List) -> List:
        """``rt.recompute_guard(...)`` where ``body`` changes an object from outside the function
        that it reads (``sct/recompute_writes.py``): a recomputation of it is refused."""
        from .analysis import Unresolved, _MISSING
        from .parse import copied_user_def, user_line
        from .recompute_writes import RecomputeWrites, alias_guard
        if str(self.gen.filename).startswith("<sct-generated") and not copied_user_def(self.gen.resolver.fn):
            return []            # generated code differentiated again: it keeps the user's guard

        def resolve(node):
            value = self.gen.resolver.resolve(node)
            return None if value is Unresolved or value is _MISSING else value

        def show_line(line):
            # a nested def copied as it is into generated code: its lines keep their distance from
            # the def's, whose user line the generated file's line map gives
            if not line or not str(self.gen.filename).startswith("<sct-generated"):
                return line
            start = self.gen.fdef.lineno
            return user_line(self.gen.filename, start)[1] + line - start
        holder = gast.FunctionDef(name=self.gen.fname, args=self.gen.fdef.args, body=list(body),
                                  decorator_list=[], returns=None, type_comment=None)
        guards = self.gen.resolver.guards

        def guard(holds):
            # (sct.options._Lookup: the guard holds while holds() is True)
            from .cache import Guard
            from .options import _Lookup
            key = f"__sct_scanned_{len(guards)}"
            guards[key] = Guard(_Lookup(holds), key, True)
            # (what a callee's scan read: checked on the next call, not refused after this one, as a
            # callee's own guards: set_act() rebinding the global uses_act() reads is Python's run)
            added = getattr(self.gen.resolver, "callee_guards", None)
            if added is None:
                added = self.gen.resolver.callee_guards = set()
            added.add(key)
        checker = RecomputeWrites(holder, set(self.facts.params) | set(self.facts.kwonly) |
                                  {n for n in (self.facts.vararg, self.facts.kwarg) if n},
                                  set(self.facts.stored), resolve, self.facts.fname,
                                  getattr(getattr(self, "act", None), "kinds", None), show_line, guard)
        checker.rt_name = self.gen.rt_name           # (its own checks in the code: not reads)
        found = checker.conflict()
        if found is None:       # (a write into a dict argument, then an op whose rule has an effect)
            found = _argument_dict_write(self.gen.fdef, self.facts.fname) or self.effectful_op(body, resolve)
        if found is None:       # (another outside value read that may reach what a replayed call changes)
            return alias_guard(checker, self.gen.resolver.made, self.rt, self.gen.filename)
        line, message = found
        return [expr_stmt(call(self.rt("recompute_guard"), [const(message), const(self.gen.filename),
                                                             const(line)]))]

    def effectful_op(self, body: List, resolve):
        """(line, message) of the first call of an op given a rule with sct.defrule whose body has an
        effect (sct/rules.py's EFFECTFUL_OPS), or None: recomputed, it would run again."""
        from .rules import EFFECTFUL_OPS
        if not EFFECTFUL_OPS:
            return None
        line = self.gen.fdef.lineno
        for node in walk_nodes(gast.Module(body=list(body), type_ignores=[])):
            line = getattr(node, "lineno", None) or line          # (the statement's: calls may have none)
            if not isinstance(node, gast.Call):
                continue
            target = resolve(node.func)
            entry = EFFECTFUL_OPS.get(id(target)) if target is not None else None
            if entry is not None and entry[0] is target:
                name = getattr(target, "__name__", "the op")
                return (line,
                        f"{name}() has its own rule (sct.defrule) and {entry[1]}: it runs as it is, and a "
                        f"second derivative recomputes this code, which would run it again (another draw, a "
                        f"second change). Take that part out of the op (draw the noise in the function and "
                        f"pass it in), or differentiate once")
        return None

    def unbound_inits(self) -> List:
        """``name = None`` for what the tape records before a loop or branch first assigns it."""
        in_compounds = self.facts.assigned_in_compounds | self.nested_counters | {
            n for parts in self.calls.vjp_calls.values() for n in (parts.bwd, parts.residuals)}
        passed_on = set(self.residuals) | {p for sweep in self.gen.sweeps.values() for p in sweep.params}
        # (every parameter is bound: a keyword-only one set to None here lost the value the call passed,
        # def f(x, *, scale=None): if scale is None: scale = 0.1 ran with 0.1 for f(x, scale=0.5))
        parameters = set(self.gen.params) | set(self.facts.kwonly) | \
            {p for p in (self.facts.vararg, self.facts.kwarg) if p is not None}
        unbound = sorted(({n for n in in_compounds if n in passed_on or n in self.gen.plan.needed} |
                          # a nested def (a lambda) made in a compound statement that a sweep is given
                          (self.facts.defined_in_compounds & passed_on))
                         - parameters - self.facts.bound_before_compounds, key=self.gen.order_key)
        return [assign(name, const(None)) for name in unbound]

    def push(self, value) -> gast.Expr:
        self.gen.uses_tape = True
        return expr_stmt(call(attr(load(self.gen.tape), "append"), [value]))

    def forward_block(self, block: List, depth: int) -> List:
        out: List = []
        last_line = None
        for s in block:
            line = getattr(s, "lineno", None)
            stmts = self.forward_stmt(s, depth)
            mark = self.gen.effect_marks.get(id(s))
            if mark is not None:
                out.append(assign(mark, call(self.rt("effect_position"))))
            if stmts and _is_comment(stmts[0]):
                if line == last_line:
                    stmts = stmts[1:]            # the same line's comment is already there
                last_line = line
            elif line is not None and line != last_line:
                out.append(self.gen.line_comment(line, ""))
                last_line = line
            elif line == last_line:
                stmts = [st for st in stmts if not _is_comment(st)]
            out.extend(stmts)
        return out

    def forward_stmt(self, s, depth: int) -> List:
        key = getattr(self.act, "key_checks", {}).get(id(s))     # a traced key into what may be a dict
        check = [expr_stmt(call(self.rt("constant_key"), [copy.deepcopy(key)]))] if key is not None else []
        return check + hook_check(self, s) + self.forward_statement(s, depth)      # (sct/key_checks.py)

    def forward_statement(self, s, depth: int) -> List:
        if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name):
            return self.forward_assign(s, depth)
        if isinstance(s, gast.Expr) and isinstance(s.value, gast.Call):
            return self.forward_call_statement(s)
        if isinstance(s, gast.If):
            return self.forward_if(s, depth)
        if isinstance(s, gast.With):
            return [self.gen.line_comment(s.lineno, ""),
                    gast.With(items=s.items, body=self.forward_block(s.body, depth + 1) or [gast.Pass()],
                              type_comment=None)]
        if isinstance(s, (gast.For, gast.While)):
            return self.forward_loop(s, depth)
        if isinstance(s, gast.Return) and self.gen.mode == Mode.VJP:
            residuals = gast.Tuple(elts=[load(p) for p in self.residuals], ctx=gast.Load())
            return [gast.Return(value=gast.Tuple(elts=[s.value, residuals], ctx=gast.Load()))]
        return [s]

    def forward_assign(self, s: gast.Assign, depth: int) -> List:
        t = s.targets[0].id
        out = []
        if depth > 0 and t in self.gen.plan.needed:
            out.append(self.push(load(t)))
        for operand, symbol, names in getattr(self.act, "operand_checks", {}).get(id(s), ()):
            # an operand the compiler could not tell is an array: not an object with its own operator
            out.append(expr_stmt(call(self.rt("array_operand"), [load(operand), const(symbol), const(' '.join(names))])))
        value = s.value
        new = None
        if id(s) in self.gen.site_calls and id(s) not in self.gen.site_records:
            name = self.gen.site_calls[id(s)]
            params = self.gen.sweeps[name].params
            args = [call("list", [load(p)]) if p == self.gen.tape else load(p) for p in params]
            new = assign(t, call(name, args))
            if id(s) in self.gen.constant_sites and (not self.gen.primal_calls or self.gen.site_records):
                # EnableHigherDerivatives=False: a constant to whatever differentiates this code again
                # (forward mode, a helper's pair, a later site of this function differentiating a
                # gradient: was 6xv for sum(3x^2 * v)); dlfeval's own code is otherwise never
                new.value = call(self.rt("stop_gradient"), [new.value])
        elif isinstance(value, gast.Attribute) and value.attr in registry.STOP_ATTRIBUTES and \
                isinstance(value.value, gast.Name) and value.value.id in self.act.active and \
                not self.act.user_field(value):
            # dlarray's .data (of anything but an array, refused at run time: the field of an object)
            new = assign(t, call(self.rt("stop_gradient"), [call(self.rt("data_receiver"), [value.value])]))
        elif isinstance(value, gast.Call) and (test := self.type_test(value)) is not None:
            # isinstance / type / np.isscalar of a dlarray held in an argument's container: numpy's answer
            # (str / repr / format of one: numpy's text)
            new = assign(t, call(self.rt(test[0]), value.args + test[1], value.keywords))
        elif t not in self.act.active and (text := self.text_operands(value)) is not None:
            # f"{v}", "%s" % v, "{}".format(v) of such a dlarray: numpy's text
            new = assign(t, text)
        elif isinstance(value, gast.Call):
            info = self.act.call_info(value)
            if self.calls.uses_vjp(s):
                return out + self.forward_vjp_call(s, t, depth)
            if info.kind == CallKind.METHOD and info.rule is not None and t in self.act.active and \
                    info.receiver not in self.act.arrays and leaf_kind(self.act.kinds.get(info.receiver)) is None:
                # a receiver the compiler could not tell is an array: not one with its own method
                out.append(expr_stmt(call(self.rt("array_receiver"), [load(info.receiver), const(info.method)])))
            if info.kind == CallKind.CREATE:     # of a traced x: an op with a rule (differentiated again)
                new = assign(t, call(self.rt("dlarray_of" if t in self.act.active else "as_dlarray_data"),
                                     value.args, value.keywords))
            else:
                wrapped = plain_run(self, value, t not in self.act.active, s)
                if wrapped is not None:
                    new = assign(t, wrapped)
        if new is None:
            out.append(s)
            return out
        new.lineno = s.lineno
        out.append(new)
        return out

    def type_test(self, value: gast.Call):
        """(module-level ``type_test``, which forward mode's code shares: sct/tangent.py)"""
        return type_test(self.act, value, self.gen.rt_name)

    def text_operands(self, value):
        """(module-level ``text_operands``, which forward mode's code shares: sct/tangent.py)"""
        return text_operands(self.act, self.rt, value)

    def forward_vjp_call(self, s: gast.Assign, t: str, depth: int) -> List:
        """A call differentiated through its pair: get the pair and run its forward, recording
        what the sweeps pop (or, where no sweep reads its adjoint, just run it)."""
        parts = self.calls.vjp_parts(s)
        if parts.primal is not None and self.gen.primal_calls and self._in_forward and \
                parts.bwd not in self.gen.plan.needed and parts.residuals not in self.gen.plan.needed:
            new = assign(t, parts.primal)        # no sweep reads its adjoint
            new.lineno = s.lineno
            return unsure_around(self, s.value, [new])
        out = []
        if depth > 0:
            for name in (parts.residuals, parts.bwd):
                if name in self.gen.plan.needed:
                    out.append(self.push(load(name)))
        for new in parts.statements:
            new.lineno = s.lineno
        out.extend(unsure_around(self, s.value, list(parts.statements)))
        return out

    def forward_call_statement(self, s: gast.Expr) -> List:
        func = s.value.func
        name = func.attr if isinstance(func, gast.Attribute) else getattr(func, "id", None)
        if name == "shuffle" and len(s.value.args) == 1 and not s.value.keywords and \
                isinstance(s.value.args[0], gast.Name) and s.value.args[0].id not in self.act.active:
            shuffled, a = call(self.rt("shuffled"), [func, s.value.args[0]]), s.value.args[0].id
            # (a global's or closure value's: not bound, was `W = rt.shuffled(...)`, an UnboundLocalError)
            new = assign(a, shuffled) if a in self.gen.resolver.locals else expr_stmt(shuffled)
            new.lineno = getattr(s, "lineno", None)
            return [new]
        wrapped = plain_run(self, s.value, True, s)
        if wrapped is not None:
            new = expr_stmt(wrapped)
            new.lineno = getattr(s, "lineno", None)
            return [new]
        return [s]

    def forward_if(self, s: gast.If, depth: int) -> List:
        # The branch taken is recorded at the end of the branch, so the
        # adjoint reads it before undoing the branch's own records.
        body = self.forward_block(s.body, depth + 1)
        orelse = self.forward_block(s.orelse, depth + 1)
        if self.gen.needs_tape(s) and self.live.cond_on_tape(s, depth):
            body.append(self.push(const(True)))
            orelse.append(self.push(const(False)))
        node = gast.If(test=s.test, body=body or [gast.Pass()], orelse=orelse)
        node.lineno = s.lineno
        return [self.gen.line_comment(s.lineno, ""), node]

    def forward_loop(self, s, depth: int) -> List:
        if not self.gen.needs_tape(s):
            node = copy.copy(s)
            node.body = self.forward_block(s.body, depth + 1) or [gast.Pass()]
            return [node]
        n = self.gen.counter(s)
        if depth > 0:
            self.nested_counters.add(n)
        pre = [assign(n, const(0))]
        body = [assign(n, gast.BinOp(left=load(n), op=gast.Add(), right=const(1)))]
        if isinstance(s, gast.For):
            target = s.target.id
            if target in self.gen.plan.needed:
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
        return [self.gen.line_comment(s.lineno, "")] + pre + [node] + post


def hook_check(self, s) -> List:
    """``rt.recompute_hooked(...)`` before a statement that may run implicit code of the user's that changes
    an object (sct/recompute_hooks.py): refused where a second derivative recomputes it."""
    checks = self.__dict__.get("_hook_checks")
    if checks is None:
        checks = self._hook_checks = implicit_hook_checks(self)
    found = checks.get(id(s))
    if found is None:
        return []
    line, checked, shown = found
    args = [const(self.gen.filename), const(line),
            gast.Tuple(elts=[dotted(name) for name, _ in checked], ctx=gast.Load()),     # (``othermod.S``)
            gast.Tuple(elts=[const(hooks) for _, hooks in checked], ctx=gast.Load())]
    return [expr_stmt(call(self.rt("recompute_hooked"), args + ([const(shown)] if shown else [])))]


def implicit_hook_checks(self) -> dict:
    """id(statement) -> (line, ((name, hooks), ...), shown) for the statements of the function that may run
    implicit code of the user's that changes an object (sct/recompute_hooks.py hook_checks); {} for generated
    code differentiated again (it keeps the user's checks)."""
    import types
    from .analysis import Unresolved, _MISSING
    from .implicit_hooks import _users_module
    from .parse import copied_user_def, user_line
    from .recompute_hooks import hook_checks
    from .runtime.effects import class_hooks
    from .runtime.origins import library_code
    filename = str(self.gen.filename)
    if filename.startswith("<sct-generated") and not copied_user_def(self.gen.resolver.fn):
        return {}
    body = self.gen.fdef.body

    def resolve(node):
        value = self.gen.resolver.resolve(node)
        return None if value is Unresolved or value is _MISSING else value
    kinds = getattr(getattr(self, "act", None), "kinds", None) or {}
    names = SimpleNamespace(plain={self.gen.rt_name}, library={self.gen.rt_name}, helpers=set(), classes={},
                            made={}, spaces=[], modules=set())
    for p, k in kinds.items():
        if leaf_kind(k) is not None:
            names.plain.add(p)
        elif isinstance(k, tuple) and len(k) > 1 and k[0] == "obj" and isinstance(k[1], type):
            names.classes[p] = {k[1]}
    for n in walk_nodes(gast.Module(body=list(body), type_ignores=[])):
        if not isinstance(n, gast.Name) or not isinstance(n.ctx, gast.Load) or n.id in names.plain:
            continue
        v = resolve(gast.Name(id=n.id, ctx=gast.Load(), annotation=None, type_comment=None))
        if isinstance(v, (types.ModuleType, types.FunctionType, types.BuiltinFunctionType, np.ufunc)) or \
                isinstance(v, type) and not class_hooks(v) and not class_hooks(type(v)):
            names.plain.add(n.id)
            if isinstance(v, types.ModuleType) and not _users_module(v) or \
                    not isinstance(v, (type, types.ModuleType)) and library_code(v):
                names.library.add(n.id)
            elif isinstance(v, types.FunctionType):
                names.helpers.add(n.id)     # (compiled and replayed: what it runs, it runs once)
            if isinstance(v, types.ModuleType) and _users_module(v) or \
                    isinstance(v, types.FunctionType) and not library_code(v):
                names.spaces.append(vars(v) if isinstance(v, types.ModuleType) else v.__globals__)
                if isinstance(v, types.ModuleType):
                    names.modules.add(n.id)
        elif v is not None and n.id not in kinds:
            names.classes[n.id] = {type(v), v} if isinstance(v, type) else {type(v)}
    names.made = _made_here(body, resolve)
    checks = hook_checks(body, self.gen.resolver.fn, kinds, self.gen.rt_name, names)
    if filename.startswith("<sct-generated"):      # (a nested def copied as it is: its lines keep their distance)
        start = self.gen.fdef.lineno
        checks = {k: (user_line(filename, start)[1] + v[0] - start,) + v[1:] for k, v in checks.items()}
    return checks


def _made_here(body, resolve) -> dict:
    """name -> the user's class whose object the name is bound to by each of its bindings (``c = C2()``): made
    anew where the code is recomputed."""
    from .runtime.origins import library_code
    made: dict = {}
    for n in walk_nodes(gast.Module(body=list(body), type_ignores=[])):
        for t in ([n.target] if isinstance(n, (gast.AugAssign, gast.For, gast.NamedExpr, gast.comprehension))
                  else n.targets if isinstance(n, (gast.Assign, gast.Delete)) else []):
            for m in walk_nodes(t):
                if isinstance(m, gast.Name):
                    cls = resolve(n.value.func) if isinstance(n, gast.Assign) and t is m and \
                        isinstance(n.value, gast.Call) else None
                    ok = isinstance(cls, type) and not library_code(cls)
                    made[m.id] = cls if ok and made.get(m.id, cls) is cls else False
    return {k: v for k, v in made.items() if v is not False}


def getattr_test(test, traced: bool):
    """``type_test``'s ``test`` of a call whose result is ``traced`` in forward mode (sct/tangent.py), where it would
    be given no tangent: None for getattr's (``getattr(W * 2, "T", None)``, differentiated as it was: refused).
    Reverse mode's sweep refuses such a getattr where a derivative passes it (sct/contributions.py)."""
    return None if test is not None and test[0] == "python_getattr" and traced else test


def type_test(act, value: gast.Call, rt_name: str):
    """``(runtime function, extra arguments)`` a type test of the user's code is run by (``isinstance``,
    one-argument ``type``, ``np.isscalar``: answered as plain Python's run answers, the value tested being
    ``tested_type``'s; ``str``, ``repr``, ``ascii``, ``format``: numpy's text of a dlarray held in an
    argument's container), or None for other calls and for the runtime's own code, which knows what it is
    given, and for sct's own checks in the code (``rt.builtin_type(A) is list``: sct/normalize_loops.py; was
    answered as a user's ``type(A)``, refusing ``for i, row in enumerate(A): A[i] = ...`` of a traced A)."""
    module = getattr(getattr(act.resolver, "fn", None), "__module__", "") or ""
    func = value.func
    if module.startswith("sct.runtime.") or value.keywords or \
            isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name) and func.value.id == rt_name or \
            any(isinstance(a, gast.Starred) for a in value.args):
        return None
    obj = act.call_info(value).obj
    # (the generated code of the runtime's own functions, differentiated again: as numpy's, as it ran before)
    own = bool(getattr(getattr(act.resolver, "fn", None), "__globals__", {}).get("__sct_runtime_code__"))
    if obj is isinstance and len(value.args) == 2:
        return "python_isinstance", [const("plain" if own else tested_type(act, value.args[0]))]
    if obj is type and len(value.args) == 1:
        return "python_type", [const("plain" if own else tested_type(act, value.args[0]))]
    if obj is hasattr and len(value.args) == 2:        # (a dlarray's attributes, not numpy's: red2_56 W1)
        return "python_hasattr", [const("plain" if own else tested_type(act, value.args[0]))]
    if obj is getattr and len(value.args) == 3 and isinstance(value.args[1], gast.Constant) and \
            isinstance(value.args[1].value, str):
        # (getattr(np.sum(W), "__len__", None): sct/normalize.py leaves it a call where the object is no name;
        # forward mode's traced result is not one: ``getattr_test``)
        return "python_getattr", [const("plain" if own else tested_type(act, value.args[0]))]
    if obj is dir and len(value.args) == 1:
        return "python_dir", [const("plain" if own else tested_type(act, value.args[0]))]
    if obj is np.isscalar and len(value.args) == 1:
        return "python_isscalar", [const("plain" if own else tested_type(act, value.args[0]))]
    # text of a value: a dlarray as the numpy array or scalar it stands for
    texts = {str: "str_as_numpy", repr: "repr_as_numpy", ascii: "ascii_as_numpy"}
    if len(value.args) == 1 and any(obj is f for f in texts):
        return texts[obj], []
    if obj is format and len(value.args) in (1, 2):
        return "format_as_numpy", []
    return None


# the runtime's calls that run the user's code as it is (runtime/effects.py), told what each argument is in plain
# Python by TYPES_KEYWORD
_PLAIN_RUNS = frozenset(("user_call", "unnamed_call", "maybe_effect"))


def typed_arguments(act, wrapped: gast.Call) -> gast.Call:
    """``rt.user_call(helper, cond, ...)`` (``wrapped``) told what each argument is in plain Python where that
    differs from what generated code holds or is not known (``tested_type``: ``"dl"``, ``"?"``), as a last keyword
    ``__sct_types__=("dl", ...)``: a helper testing types is given a dlarray where Python's run gives one
    (runtime/support.py python_arguments; was the data: ``isinstance(h > 0, np.ndarray)`` True in the helper,
    False in Python).  Arguments given by ``*`` or ``**`` are not told."""
    from .runtime.effects import TYPES_KEYWORD
    if not (isinstance(wrapped.func, gast.Attribute) and wrapped.func.attr in _PLAIN_RUNS) or \
            any(isinstance(a, gast.Starred) for a in wrapped.args) or any(k.arg is None for k in wrapped.keywords):
        return wrapped
    module = getattr(getattr(act.resolver, "fn", None), "__module__", "") or ""
    if module.startswith("sct.runtime.") or \
            getattr(getattr(act.resolver, "fn", None), "__globals__", {}).get("__sct_runtime_code__"):
        return wrapped          # (the runtime's own code, which knows what it is given)
    words = [_argument_word(act, a, 0) for a in wrapped.args[1:]] + \
        [_argument_word(act, k.value, 0) for k in wrapped.keywords]
    if not any(words):
        return wrapped
    told = gast.Tuple(elts=[const(w) for w in words], ctx=gast.Load())
    return call(wrapped.func, wrapped.args, wrapped.keywords + [gast.keyword(arg=TYPES_KEYWORD, value=told)])


def plain_run(code: "ForwardCode", value: gast.Call, inactive: bool, s):
    """``rt.user_call(...)`` of ``value`` (CallLowering.effect_call, ``inactive``: its result traced or not) told
    its arguments' types in plain Python (``typed_arguments``); None for a call of library code, whose callbacks
    are checked (``check_callbacks``)."""
    wrapped = code.calls.effect_call(value, inactive, isinstance(s, gast.Expr))
    if wrapped is not None:
        return typed_arguments(code.act, wrapped)
    check_callbacks(code.act, value, lambda m, c: code.gen.fail(s, m, c), code.gen.filename, code.gen.rt_name)
    return None


def plain_call_check(act, value: gast.Call, check):
    """``rt.plain_call_check(helper, (args...), words)`` for forward mode's call of the user's ``helper`` as it
    is, where an argument's type in plain Python is not what the code holds or not known (``_argument_word``),
    or None."""
    if any(isinstance(a, gast.Starred) for a in value.args) or value.keywords or \
            act.call_info(value).kind not in (CallKind.FUNCTION, CallKind.METHOD, CallKind.PLAIN):
        return None
    from .runtime.effects import _user_code
    try:
        found = act.resolver.resolve(value.func)
        if callable(found) and not _user_code(found):
            return None         # (numpy's, Python's own functions)
    except Exception:
        pass
    words = [_argument_word(act, a, 0) for a in value.args]
    if not any(words):
        return None
    return call(check, [value.func, gast.Tuple(elts=list(value.args), ctx=gast.Load()),
                        gast.Tuple(elts=[const(w) for w in words], ctx=gast.Load())])


def check_callbacks(act, value: gast.Call, fail, filename: str, rt_name: str, callee: bool = False) -> None:
    """Refuse a call of library code given a function of the user's that tests types (``functools.reduce(f, ms)``,
    ``sorted(ms, key=f)``, ``max(ms, key=f)``; ``callee``: the function called too, forward mode's code calling
    the user's helpers as they are) together with values whose type in plain Python generated code does not hold
    (``_argument_word``: ``[h > 0, W > 0]``, dlarrays in Python, their data here): it runs on those values, where
    Python's run gives it dlarrays (was numpy's answer, silently).  ``fail(message, construct)`` refuses."""
    from .runtime.support import tests_types, _TYPE_TEST_NAMES
    if act.call_info(value).kind not in (CallKind.PLAIN, CallKind.NONDIFF, CallKind.OP, CallKind.FUNCTION) or \
            isinstance(value.func, gast.Attribute) and isinstance(value.func.value, gast.Name) and \
            value.func.value.id == rt_name or str(filename).startswith("<sct-generated"):
        return          # (generated code differentiated again: the user's code it was made from was checked)
    given = list(value.args) + [k.value for k in value.keywords]
    named = shared_fact(act.fdef, "local_defs", _local_defs)

    def testing(node) -> bool:
        if not isinstance(node, (gast.Name, gast.Attribute)):
            return False
        if isinstance(node, gast.Name) and node.id in named:
            return any(isinstance(n, gast.Name) and n.id in _TYPE_TEST_NAMES or
                       isinstance(n, gast.Attribute) and n.attr in _TYPE_TEST_NAMES for n in walk_nodes(named[node.id]))
        try:
            found = act.resolver.resolve(node)
        except Exception:
            return False
        return callable(found) and tests_types(found)
    for f in given + ([value.func] if callee else []):
        if testing(f) and any(a is not f and _argument_word(act, a, 0) not in ("", "plain?") for a in given):
            name = getattr(f, "id", None) or getattr(f, "attr", "the function")
            name = "the lambda" if name in named and name.endswith("_lambda") else name
            fail(f"{name} tests a value's type (isinstance, type, np.isscalar) and runs here as it is on values "
                 f"computed from dlfeval's dlarrays, which are dlarrays in plain Python where sct holds their data "
                 f"(numpy arrays): the test would answer otherwise; test isinstance(v, (np.ndarray, sct.dlarray)) "
                 f"(True for both), or its shape or ndim", f"{name} (a function testing types)")


def _local_defs(fdef) -> dict:
    """The functions defined inside ``fdef`` (at any depth) by name."""
    return {n.name: n for n in walk_nodes(fdef) if isinstance(n, gast.FunctionDef) and n is not fdef}


def _argument_word(act, node, depth: int) -> str:
    """``tested_type`` of an argument, ``"dl"`` or ``"?"``, or a word taken from a helper's parameters' kinds
    (``"dl?"``, ``"plain?"``: resolved when the call runs, runtime/support.py ``_resolved``, as its type tests
    are), else ``""``; ``"?"`` too for a list, tuple or dict written out (or a name bound once to one) holding
    such a value (``[h > 0, W > 0]``: their data in generated code, dlarrays in Python)."""
    word = tested_type(act, node)
    facts = act._sct_type_facts
    if isinstance(node, gast.Name) and node.id in facts.params and not facts.bindings().get(node.id) and \
            word != "dl":
        # a parameter never rebound: dlfeval's own, what Python gives, items and all, but for the dlarrays in its
        # containers, which generated code holds as their data ({"s": 2.0, "m": dlarray(mask)} was given with the
        # mask's data, a numpy array, to a helper counting its dlarrays); a helper's container holding a float or
        # bool array: maybe such data, where its caller could not tell (rt.unsure_types)
        kind = act.kinds.get(node.id)
        leaves = _leaves_of(kind, 0) if isinstance(kind, tuple) and kind[:1] in _HOLDERS else []
        if any(k is None or k[:1] == ("dl",) for k in leaves):
            return "?"
        if getattr(act, "given_as_is", False):
            return ""
        if any(_data_kind(k) for k in leaves):
            return "plain?"
    if word in ("dl", "?") or word.endswith("?") or depth > 3:
        return word if word in ("dl", "?") or word.endswith("?") else ""
    if word == "" and any(isinstance(n, gast.Name) and n.id in _reached(act) for n in walk_nodes(node)):
        return "?"          # (computed from traced values by ops with no derivative: h > 0 in forward mode)
    if isinstance(node, gast.Name):
        binds = facts.bindings().get(node.id)
        items = [b for b in binds or () if isinstance(b, (gast.List, gast.Tuple, gast.Dict))]
    else:
        items = node.elts if isinstance(node, (gast.List, gast.Tuple)) else \
            [v for v in node.values if v is not None] if isinstance(node, gast.Dict) else []
    words = {_argument_word(act, e, depth + 1) for e in items if e is not None} - {""}
    # (an item surely or maybe a dlarray in Python: the container not known; one plain unless the helper's caller
    # could not tell: likewise)
    return "?" if words - {"plain?"} else "plain?" if words else ""


def _reached(act) -> set:
    """The names whose values are computed (by any operation: a comparison too, which ``Dependence`` does not
    follow) from the traced values or the names ``tested_type`` found depending on them."""
    facts = act._sct_type_facts
    found = getattr(facts, "reached", None)
    if found is None:
        found = set(facts.dependent) | set(act.active)
        binds = facts.bindings()
        for _ in range(64):
            more = {name for name, values in binds.items() if name not in found and any(
                v is not None and any(isinstance(n, gast.Name) and n.id in found for n in walk_nodes(v))
                for v in values)}
            if not more:
                break
            found |= more
        facts.reached = found
    return found


def tested_type(act, node) -> str:
    """What the value a type test tests (``node``) is in plain Python's run, where generated code holds a
    traced value's data (a numpy array or number) and the dlarrays in arguments' containers as they are:
    ``"dl"`` surely a dlarray (an op of a traced value: sct/argument_writes.py python_type), ``"plain"``
    surely none, ``"?"`` not known of a value computed from dlfeval's dlarrays (runtime/support.py refuses
    the test where its answer depends on it), ``""`` not known of one that is not (tested as it is)."""
    found = _known_type(act, node, _type_facts(act, False))
    if found in ("dl", "plain", "arrays") and not getattr(act, "given_as_is", False) and \
            not getattr(act, "traced_as_kinds", False) and \
            _known_type(act, node, _type_facts(act, True)) != found:
        # a helper's word taken from its parameters' kinds, which say what is traced, not what Python holds
        # (a list [W, M] of a dlarray and a numpy array, both "dl" to the helper; red2_56 W2): as they say
        # unless its caller could not tell (runtime/support.py unsure_types)
        return found + "?"
    return found


def _known_type(act, node, facts) -> str:
    found = _python_type_of(node, facts, 0)
    if found:
        return found
    return "?" if act.is_active(node) or isinstance(node, gast.Name) and node.id in facts.dependent else ""


def _type_facts(act, strict: bool):
    """What ``tested_type`` reads of the function, ``strict``: none of its parameters' kinds taken as what
    Python holds (forward mode's, and a helper's where its caller cannot tell)."""
    attr = "_sct_strict_type_facts" if strict else "_sct_type_facts"
    facts = getattr(act, attr, None)
    if facts is None:
        from .argument_writes import item_types, key_writes, name_bindings, restored_keys
        from .kinds import _holds_traced
        fdef = act.fdef
        params = {a.id for a in fdef.args.args + fdef.args.kwonlyargs + fdef.args.posonlyargs} | \
            {a.id for a in (fdef.args.vararg, fdef.args.kwarg) if a is not None}
        bindings, keys, restored = name_bindings(fdef), key_writes(fdef), restored_keys(fdef)
        # a helper's float array (or numpy scalar) may be the data of a dlarray of its caller's that carries
        # no derivative (``mask = h > 0`` given to it): not known (only dlfeval's own arguments are as given)
        data = set() if getattr(act, "given_as_is", False) else \
            {p for p in params if isinstance(act.kinds.get(p), tuple) and act.kinds[p][:1] == ("nd",) and
             np.dtype(act.kinds[p][1]).kind in "fcb"}
        if strict or getattr(act, "traced_as_kinds", False):
            # forward mode's kinds say what is traced, not what Python holds (jvp's numpy primals are "dl"):
            # nothing of its parameters known
            data = {p for p in params if act.kinds.get(p) is not None}
            seen = _KindsView(act, {})
        else:
            seen = _KindsView(act, {k: v for k, v in act.kinds.items() if k not in data}) if data else act
        facts = SimpleNamespace(activity=seen, bindings=lambda: bindings, key_writes=lambda: None if None in keys
                                else keys, params=params, restored=lambda: restored)
        item_types(fdef, facts)
        seeds = {p for p in params if _holds_traced(act.kinds.get(p)) or p in act.active} | data
        facts.dependent = Dependence(fdef, act, seeds).active if seeds else set()
        setattr(act, attr, facts)
    return facts


def unsure_around(code: "ForwardCode", value, statements: List) -> List:
    """The statements of a helper's call ``value``, between ``rt.unsure_types()`` and ``rt.types_end()`` where it
    is given what its kinds cannot tell apart ([W, M]: both traced data to it): its type tests taken from them
    (and the words it gives helpers it runs as they are, runtime/support.py python_arguments) are not known while
    it runs (red2_56 W2).  Not around sct's own calls (dlgradient's), nor in generated code differentiated again,
    which keeps the user's code's marks (was: a second order's helper refused where the first order was exact)."""
    from .parse import copied_user_def
    act = code.act
    if not isinstance(value, gast.Call) or \
            str(code.gen.filename).startswith("<sct-generated") and not copied_user_def(code.gen.resolver.fn) or \
            (getattr(act.call_info(value).obj, "__module__", None) or "").split(".")[0] == "sct":
        return statements
    if any(_unsure_argument(act, a.value if isinstance(a, gast.Starred) else a, value) for a in value.args):
        ends = [expr_stmt(call(code.rt("unsure_types"), [])), expr_stmt(call(code.rt("types_end"), []))]
        for new in ends:
            new.lineno = statements[0].lineno if statements else None
        return ends[:1] + statements + ends[1:]
    return statements


def _unsure_argument(act, node, given=None) -> bool:
    """Is the argument ``node`` of a helper's call (``given``) a list, tuple or dict whose items the helper's kinds
    may show otherwise than Python holds them: items not all dlarrays (or all not), a numpy array beside a
    dlarray, both traced data to the helper (``[W, M]``, dlfeval's ``{"W": W, "mask": M}``)?"""
    from .argument_writes import _kind
    from .kinds import _children
    facts = _type_facts(act, False)
    if isinstance(node, gast.Name) and act.kinds.get(node.id) is None and tested_type(act, node) == "?" and \
            not _bound_to_sequence(node, facts):
        return True             # (a traced value whose type the caller cannot tell: ``for v in [W, M]: gain(v)``)
    if not isinstance(node, (gast.List, gast.Tuple, gast.Dict)) and act.is_active(node) and \
            tested_type(act, node) in ("plain", "plain?"):
        return True             # (a number or ndarray in Python made from a traced value, traced data to the helper's
                                # kinds: float(y), y.item(), np.asarray(x); was a dlarray to its type tests, red57c W1)
    if isinstance(node, (gast.List, gast.Tuple)) or isinstance(node, gast.Name) and node.id not in facts.params:
        binds = facts.bindings().get(node.id) if isinstance(node, gast.Name) else None
        if binds and len(binds) == 1 and isinstance(binds[0], (gast.List, gast.Tuple)) and \
                _only_read(node.id, act.fdef, given):
            node = binds[0]     # (a list made for this call, given to it alone: its items as made)
        if not isinstance(node, (gast.List, gast.Tuple)) and not _bound_to_sequence(node, facts):
            return False
        found = _items_type(node, facts, 0)
        if getattr(act, "given_as_is", False) and isinstance(node, (gast.List, gast.Tuple)) and \
                any(_plain_to_helpers(_kind(e, facts, set())) for e in node.elts):
            return True         # ([p["m"], W] of a bool dlarray p["m"]: its data a plain array to the helper)
        return not (found in ("dl", "plain") or isinstance(found, tuple))
    kind = act.kinds.get(node.id) if isinstance(node, gast.Name) else None
    if getattr(act, "given_as_is", False) and isinstance(kind, tuple) and kind[:1] in _HOLDERS and \
            any(_plain_to_helpers(k) for k in _leaves_of(kind, 0)):
        return True             # (a bool dlarray in a dict: its data, a plain bool array to the helper's kinds)
    if getattr(act, "given_as_is", False) and isinstance(kind, tuple) and kind[:1] in _HOLDERS and \
            act.is_active(node):
        # (dlarrays and Python's numbers, text: what the helper's kinds say too, where one of them is no float,
        # traced data to the helper: {"w": W, "lr": 0.5} is all "dl" to it, isinstance(lr, float) was False)
        leaves = _leaves_of(kind, 0)
        found = _leaves_type(leaves) if None not in leaves else ""
        return not (found == "dl" or found == "arrays" and
                    any(k[:1] == ("const",) or k[:1] == ("num",) and k[2] not in (float, complex) for k in leaves))
    return False


_HOLDERS = (("seq",), ("map",), ("obj",))


def _data_kind(kind) -> bool:
    """Is ``kind`` a float, complex or bool array's or numpy scalar's (what generated code holds for a dlarray)?"""
    return isinstance(kind, tuple) and kind[:1] == ("nd",) and np.dtype(kind[1]).kind in "fcb"


def _plain_to_helpers(kind) -> bool:
    """Is ``kind`` a dlarray's whose data a helper's kinds show as a plain array (a bool or integer dlarray: no
    derivative, ``("nd", ...)`` to the helper, sct/call_tree.py _retrace; was numpy's answer in a helper given
    ``{"W": W, "m": dlarray(mask)}``: ``isinstance(p["m"], np.ndarray)`` True where Python's is False)?"""
    return isinstance(kind, tuple) and kind[:1] == ("dl",) and np.dtype(kind[1]).kind not in "fc"


def _leaves_of(kind, depth: int) -> list:
    """The kinds of the leaves of a container or object kind (None for one too deep to read)."""
    if not (isinstance(kind, tuple) and kind[:1] in _HOLDERS):
        return [kind]
    if depth > 8 or not isinstance(kind[2], tuple):
        return [None]
    from .kinds import _children
    return [leaf for k in _children(kind).values() for leaf in _leaves_of(k, depth + 1)]


def _bound_to_sequence(node, facts) -> bool:
    binds = facts.bindings().get(node.id) or ()
    return any(isinstance(b, (gast.List, gast.Tuple, gast.Dict)) for b in binds)


class _KindsView:
    """An activity whose parameters' kinds are ``kinds`` (``tested_type``: those not known as Python has them
    left out)."""

    def __init__(self, act, kinds):
        self._act, self.kinds = act, kinds

    def __getattr__(self, name):
        return getattr(self._act, name)


def _python_type_of(node, facts, depth: int) -> str:
    """``python_type`` of ``node``, and of an item of an argument's container it walks or reads, whose kind
    says what each item is (``for k, v in p.items()`` of a dict of dlarrays, ``for v in (m.a, m.b)``: its
    leaves, which generated code may hold as their data)."""
    from .argument_writes import python_type
    found = python_type(node, facts)
    if found or depth > 8:
        return found
    binds = facts.bindings().get(node.id) if isinstance(node, gast.Name) and node.id not in facts.params else None
    if binds and len(binds) == 1 and binds[0] is not None:
        return _python_type_of(binds[0], facts, depth + 1)
    if isinstance(node, gast.Subscript) and not isinstance(node.slice, gast.Slice):
        items = _items_type(node.value, facts, depth + 1)
        if isinstance(items, tuple):            # (a pair of dict.items(): its value, or the pair itself)
            return items[1] if items[0] == "one pair" and isinstance(node.slice, gast.Constant) and \
                node.slice.value in (1, -1) else ""
        return items
    if isinstance(node, gast.Attribute) and isinstance(node.value, gast.Name):
        return _kind_type_of(_field_kind(node, facts))
    return ""


def _items_type(node, facts, depth: int):
    """What each item of the sequence ``node`` is in plain Python (``python_type``'s words), ``("pair", t)``
    for the pairs of a dict's ``items()``, or ``""`` where that is not known."""
    from .argument_writes import _agreed, _kind
    if depth > 8:
        return ""
    if isinstance(node, gast.Name) and node.id not in facts.params:
        binds = facts.bindings().get(node.id)
        if not binds or len(binds) != 1 or binds[0] is None or \
                not isinstance(binds[0], gast.Tuple) and not _only_read(node.id, facts.activity.fdef):
            return ""
        return _items_type(binds[0], facts, depth + 1)
    if isinstance(node, gast.Subscript) and not isinstance(node.slice, gast.Slice):
        items = _items_type(node.value, facts, depth + 1)     # (a pair of a dict's items(): ("one pair", t))
        return ("one pair", items[1]) if isinstance(items, tuple) and items[0] == "pair" else ""
    if isinstance(node, (gast.Tuple, gast.List)):
        found = _agreed(_python_type_of(e, facts, depth + 1) for e in node.elts) if node.elts else ""
        return found if found in ("dl", "plain") else ""
    if isinstance(node, gast.Call) and len(node.args) == 1 and not node.keywords and \
            (isinstance(node.func, gast.Attribute) and node.func.attr == "as_sequence" or
             facts.activity.call_info(node).obj in (list, tuple)):
        return _items_type(node.args[0], facts, depth + 1)
    if isinstance(node, gast.Call) and not node.args and not node.keywords and \
            isinstance(node.func, gast.Attribute) and node.func.attr in ("values", "items"):
        kind = _kind(node.func.value, facts, set())
        if not (isinstance(kind, tuple) and kind[:1] == ("map",)) or \
                any(w[:1] == ("item",) for w in facts.activity.written_keys):
            return ""
        found = _leaves_type([k for _, k in kind[2]])
        return ("pair", found) if node.func.attr == "items" and found else found
    kind = _kind(node, facts, set()) if isinstance(node, gast.Name) else None
    if isinstance(kind, tuple) and kind[:1] == ("seq",):
        return _leaves_type(kind[2])
    return ""


# the runtime's calls normalization makes that only read what they are given (a loop's walk and its checks)
_READING_CHECKS = frozenset(("as_sequence", "unformatted_outside", "require_unpacked_exactly"))


def _only_read(name: str, fdef, given=None) -> bool:
    """Is the list (or other value) ``name`` only read by ``name[i]``, walked or measured, never changed nor given
    to anything else (``hs.append(v)``, ``hs[0] = v``, ``helper(hs)``: its items may be others than it was made
    with)?"""
    for n in walk_nodes(fdef):
        if isinstance(n, gast.Call) and n is not given:
            reads = [a for a in list(n.args) + [k.value for k in n.keywords]
                     if isinstance(a, gast.Name) and a.id == name]
            if reads and not (isinstance(n.func, gast.Attribute) and n.func.attr in _READING_CHECKS or
                              isinstance(n.func, gast.Name) and n.func.id == "len"):
                return False
        elif isinstance(n, gast.Attribute) and isinstance(n.value, gast.Name) and n.value.id == name:
            return False
        elif isinstance(n, gast.Subscript) and isinstance(n.value, gast.Name) and n.value.id == name and \
                not isinstance(n.ctx, gast.Load):
            return False
        elif isinstance(n, (gast.Assign, gast.Return, gast.Yield)) and isinstance(n.value, gast.Name) and \
                n.value.id == name:
            return False            # (bound to another name, returned)
        elif isinstance(n, (gast.Tuple, gast.List)) and any(isinstance(e, gast.Name) and e.id == name
                                                             for e in n.elts):
            return False            # (put in another container)
    return True


def _leaves_type(kinds) -> str:
    """What every one of the items of kinds ``kinds`` is in plain Python: ``"dl"``, ``"plain"``, or ``"arrays"``
    where each is a dlarray or a Python number, string, bool or None (``{"w": W, "lr": 0.5}``: an array or
    numpy's scalar the code holds is a dlarray's data, a number is the number given); ``""`` where not known."""
    found = {"number" if isinstance(k, tuple) and k[:1] in (("num",), ("const",)) else _kind_type_of(k)
             for k in kinds}
    if not found or "" in found:
        return ""
    if found <= {"dl", "number"}:
        return "dl" if found == {"dl"} else "arrays"
    return "plain" if found <= {"plain", "number"} else ""


def _field_kind(node: gast.Attribute, facts):
    """The kind of ``m.a``, a field of an object argument ``m`` the function sets no field of, nor binds."""
    owner = node.value.id
    if owner not in facts.params or facts.bindings().get(owner):
        return None
    kind = facts.activity.kinds.get(owner)
    if not (isinstance(kind, tuple) and kind[:1] == ("obj",)):
        return None
    for n in walk_nodes(facts.activity.fdef):
        if isinstance(n, gast.Attribute) and isinstance(n.value, gast.Name) and n.value.id == owner and \
                not isinstance(n.ctx, gast.Load):
            return None
    from .kinds import child_kind
    return child_kind(kind, node.attr)


def _kind_type_of(kind) -> str:
    from .argument_writes import _kind_type
    return _kind_type(kind) if kind is not None else ""


def text_operands(act, rt, value):
    """``value`` (an f-string, ``"..." % v`` or ``"...".format(v, ...)``) with the values it shows
    passed through ``rt.text_operand`` (a dlarray held in an argument's container shown as the numpy
    array or scalar it stands for, as ``type_test``'s functions answer); None where ``value`` is none
    of them or this is the runtime's own code."""
    module = getattr(getattr(act.resolver, "fn", None), "__module__", "") or ""
    if module.startswith("sct.runtime."):
        return None

    def shown(v):
        if isinstance(v, (gast.Name, gast.Attribute, gast.Subscript, gast.Tuple, gast.List, gast.Dict)):
            return call(rt("text_operand"), [v])
        return v

    def is_text(node):
        return isinstance(node, gast.Constant) and isinstance(node.value, str)
    if isinstance(value, gast.JoinedStr):
        if not any(isinstance(v, gast.FormattedValue) for v in value.values):
            return None
        new = copy.deepcopy(value)
        for v in new.values:
            if isinstance(v, gast.FormattedValue):
                v.value = shown(v.value)
        return new
    if isinstance(value, gast.BinOp) and isinstance(value.op, gast.Mod) and is_text(value.left):
        return gast.BinOp(left=value.left, op=value.op, right=shown(value.right))
    if isinstance(value, gast.Call) and isinstance(value.func, gast.Attribute) and \
            value.func.attr == "format" and is_text(value.func.value) and \
            not any(isinstance(a, gast.Starred) for a in value.args) and \
            all(k.arg is not None for k in value.keywords):
        return gast.Call(func=value.func, args=[shown(a) for a in value.args],
                         keywords=[gast.keyword(arg=k.arg, value=shown(k.value)) for k in value.keywords])
    return None


def _argument_dict_write(fdef, fname: str):
    """(line, message) of the first write into a dict dlfeval was given (sct.write_checks._argument_item_write):
    its write into the caller's dict (rt.setitem_through) is not differentiated again; None where there is none."""
    written = getattr(fdef, "sct_argument_item_writes", None)
    if not written:
        return None
    line, name = written[0]
    return (line, f"{fname}() writes into {name}[...], a dict it was given, in place, and a later dlgradient "
                  f"differentiates a gradient computed from this code again: sct recomputes the code to do so, and "
                  f"does not differentiate a write into the caller's dict. Write into a new dict (`{name} = "
                  f"dict({name})` first) and return it, or call dlgradient once")
