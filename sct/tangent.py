"""Forward mode: the tangent of every value, computed beside the value.

``f(x)`` becomes ``f_jvp(x, dot_x)`` returning ``(f(x), J @ dot_x)``: each
statement ``t = op(a, b)`` is followed by ``dot_t = <tangent of op>``; loops
and branches keep their shape (forward mode needs no tape).  Tangents come
from the op's rule and facts (``registry.OpFacts``; operators are the ops of
``operator``, as in reverse mode) in three ways, cheapest first:

* ops that are linear in an argument (sums, reshapes, indexing, the runtime's
  adjoint helpers; ``a @ b`` in each of its two) apply themselves to its tangent;
* elementwise rules of the form ``g * conj(partial)`` give ``dot * partial``;
* anything else is the rule *transposed*: ``rt.op_jvp`` differentiates the
  rule function itself (it is linear in ``g``), through generated code.

Calls to the user's functions are forward-differentiated the same way, at run
time (``rt.jvp_call``).
"""
from __future__ import annotations

import copy
from typing import Any, Dict, List, Optional

import gast
import numpy as np

from .runtime.origins import module_top
from .runtime import registry

from .analysis import OPERATORS, Activity, CallInfo, bind_arguments, leaf_kind, starred_op_refusal, starred_unbound
from .errors import CompileError
from .ir import assign, attr, call, const, load, loaded_names, store, tree_changed, walk_nodes
from .naming import Namer
from .plans import CallKind
from .forward_code import check_callbacks, getattr_test, plain_call_check, text_operands, type_test
from .reverse import _function, _reach, instantiate_template, simplify
from .templates import guard_rule_globals, python_base_powers, rule_namespace
from .contributions import FLAT_ADVICE, cast_dtype
from .dlupdates import marking_dlupdate

# the functions whose value is NaN where a partial is taken at a point outside their domain (log of
# x < 0): a term with one is zero where its tangent is the zero marker (TangentTransformer.elementwise)
_LOG_NAMES = frozenset({"log", "exponent_log"})


def _log_name(node) -> str:
    """The name ``node`` reads (``np.log``'s attribute, a rule's own helper ``exponent_log``)."""
    if isinstance(node, gast.Attribute):
        return node.attr
    return node.id if isinstance(node, gast.Name) else ""


class TangentTransformer:
    def __init__(self, fdef: gast.FunctionDef, filename: str, activity: Activity, namer: Namer,
                 numpy_name: str, rt_names: Dict[int, str], rt_name: str):
        self.fdef = fdef
        self.filename = filename
        self.act = activity
        self.namer = namer
        self.np = numpy_name
        self.rt_names = rt_names
        self.rt_name = rt_name
        self.params = [a.id for a in fdef.args.args]
        self.tangents: Dict[str, str] = {}
        self.float_operands = False     # the op being differentiated gives a Python float

    def fail(self, node, message: str):
        raise CompileError(message, self.filename, getattr(node, "lineno", self.fdef.lineno), "forward mode")

    def rt(self, name: str):
        return attr(load(self.rt_name), name)

    def dot(self, name: str) -> str:
        if name not in self.tangents:
            self.tangents[name] = self.namer.fresh("dot_" + name)
        return self.tangents[name]

    def dot_of(self, node) -> Optional[Any]:
        """The tangent of an operand (a Name), or None when it is a constant."""
        if isinstance(node, gast.Name) and node.id in self.act.active:
            if self.float_operands:        # an operand of math's functions or float(): in float64
                return call(self.rt("float64_tangent"), [load(self.dot(node.id))])
            return load(self.dot(node.id))
        return None

    # --- the function ---------------------------------------------------------------------------
    def build(self) -> gast.FunctionDef:
        dots = [self.dot(p) for p in self.params]
        body = self.block(self.fdef.body)
        name = self.namer.fresh(self.fdef.name + "_jvp")
        kwonly = [a.id for a in self.fdef.args.kwonlyargs]     # constants: the call site refuses traced keywords
        kwarg = self.fdef.args.kwarg.id if self.fdef.args.kwarg is not None else None     # (so is **kw)
        return _function(name, self.params + dots, body, kwonly, kwarg=kwarg)

    def block(self, stmts: List) -> List:
        from .emit import comment
        from .parse import source_line
        out: List = []
        last = None
        for s in stmts:
            line = getattr(s, "lineno", None)
            if line is not None and line != last:
                text = source_line(self.filename, line)
                out.append(comment(f"line {line}: {text}" if text else f"line {line}", line=line))
                last = line
            out.extend(self.stmt(s))
        return out

    def stmt(self, s) -> List:
        if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name):
            return self.assignment(s)
        if isinstance(s, gast.With):
            return [gast.With(items=s.items, body=self.block(s.body) or [gast.Pass()], type_comment=None)]
        if isinstance(s, gast.If):
            node = gast.If(test=s.test, body=self.block(s.body) or [gast.Pass()], orelse=self.block(s.orelse))
            return [node]
        if isinstance(s, gast.For):
            return [gast.For(target=s.target, iter=s.iter, body=self.block(s.body) or [gast.Pass()],
                             orelse=[], type_comment=None)]
        if isinstance(s, gast.While):
            return [gast.While(test=s.test, body=self.block(s.body) or [gast.Pass()], orelse=[])]
        if isinstance(s, gast.Return):
            value = s.value
            tangent = self.dot_of(value) if isinstance(value, gast.Name) else None
            if tangent is None:
                # forward mode's zero: a tuple's items keep their structure, which the caller's tangent
                # code reads by subscript (zero_adjoint's tuple of markers made `dot_t[0][0]` of a
                # helper's ((ub, residuals), ()) a TypeError: jvp over dldivergence/dllaplacian)
                tangent = call(self.rt("zero_tangent"), [value])
            return [gast.Return(value=gast.Tuple(elts=[value, tangent], ctx=gast.Load()))]
        if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Attribute) and \
                isinstance(s.value, gast.Name) and s.value.id in self.act.active:
            self.fail(s, "forward mode cannot follow a traced value stored into an attribute yet")
        return [s]

    def assignment(self, s: gast.Assign) -> List:
        t = s.targets[0].id
        value = s.value
        # an operand the compiler could not tell is an array: not an object with its own operator
        checks = [gast.Expr(value=call(self.rt("array_operand"), [load(operand), const(symbol), const(' '.join(names))]))
                  for operand, symbol, names in getattr(self.act, "operand_checks", {}).get(id(s), ())]
        if id(s) in getattr(self.act, "key_checks", {}):   # a traced key into what may be a dict (sct/key_checks)
            checks.append(gast.Expr(value=call(self.rt("constant_key"), [copy.deepcopy(self.act.key_checks[id(s)])])))
        return checks + self._assignment(s, t, value)

    def _assignment(self, s: gast.Assign, t: str, value) -> List:
        before = s.value
        try:
            return self._assignment_of(s, t, value)
        finally:
            if s.value is not before:       # (the user's statement rewritten in place: sct.ir.shared_walks
                tree_changed(self.act.fdef)  # of the function walk it again; was a stale walk)

    def _assignment_of(self, s: gast.Assign, t: str, value) -> List:
        if isinstance(value, gast.Attribute) and value.attr in registry.STOP_ATTRIBUTES and \
                isinstance(value.value, gast.Name) and value.value.id in self.act.active and \
                not self.act.user_field(value):
            # dlarray's .data, a constant, as reverse mode reads it (sct/forward_code.py); was numpy's
            # .data here, a memoryview: `x.data.copy()` an AttributeError, and a test of its type took
            # the other branch than dlfeval's and jvp(mode="transpose")'s
            s.value = value = call(self.rt("data_receiver"), [value.value])
        if isinstance(value, gast.Call) and \
                (test := getattr_test(type_test(self.act, value, self.rt_name), t in self.act.active)):
            # isinstance / type / np.isscalar (str / repr / format) of a dlarray held in an argument's or a
            # closure's container, as reverse mode's code answers (sct/forward_code.py): numpy's answer (was
            # the dlarray's: `type(m.W[0]) is np.float64` False where Python's is True, another branch)
            s.value = call(self.rt(test[0]), value.args + test[1], value.keywords)
            return [s, assign(self.dot(t), call(self.rt("zero_tangent"), [load(t)]))] if t in self.act.active \
                else [s]
        if t not in self.act.active and (text := text_operands(self.act, self.rt, value)) is not None:
            s.value = text       # f"{v}", "%s" % v: numpy's text
            return [s]
        if t not in self.act.active:
            if isinstance(value, gast.Call):
                # a library call's callback testing types, run as it is on the data of Python's dlarrays: refused
                # (sct/forward_code.py check_callbacks); a helper's call: when run (a CompileError here would
                # run it by reverse mode on dlarrays, numpy's arrays given to jvp too)
                check_callbacks(self.act, value, lambda m, c: self.fail(s, m), self.filename, self.rt_name)
                check = plain_call_check(self.act, value, self.rt("plain_call_check"))
                if check is not None:
                    return [gast.Expr(value=check), s]
            if isinstance(value, gast.Call) and self.act.call_info(value).kind == CallKind.CREATE:
                # dlarray(c, fmt) of a constant: its data, as the reverse-mode code has it (was the dlarray
                # object, which the format transposes then marked as having lost its labels: refused)
                s.value = call(self.rt("as_dlarray_data"), value.args, value.keywords)
            return [s]
        if not self.act.value_active(value):
            return [s, assign(self.dot(t), call(self.rt("zero_tangent"), [load(t)]))]
        if isinstance(value, gast.Call):
            info = self.act.call_info(value)
            if info.kind == CallKind.METHOD and info.rule is not None and info.receiver not in self.act.arrays and \
                    leaf_kind(self.act.kinds.get(info.receiver)) is None:
                # a receiver the compiler could not tell is an array: not one with its own method
                check = gast.Expr(value=call(self.rt("array_receiver"), [load(info.receiver), const(info.method)]))
                return [check] + self.assignment_tangent(s, t, value)
        return self.assignment_tangent(s, t, value)

    def assignment_tangent(self, s: gast.Assign, t: str, value) -> List:
        if t in loaded_names(value):          # x = f(x): the tangent needs the old x
            new = self.namer.fresh(t + "_new")
            tangent = self.tangent(s, value, new)
            if isinstance(tangent, _JointCall):
                return [_pair(t, self.dot(t), tangent.pair)]
            return [assign(new, value), assign(self.dot(t), tangent), assign(t, load(new))]
        tangent = self.tangent(s, value, t)
        if isinstance(tangent, _JointCall):     # the value and its tangent come back together
            return [_pair(t, self.dot(t), tangent.pair)]
        return [s, assign(self.dot(t), tangent)]

    # --- tangents of one operation ----------------------------------------------------------------
    def tangent(self, s, value, ans: str):
        if isinstance(value, gast.Name):
            return self.dot_of(value)
        if isinstance(value, gast.BinOp):
            return self.binop(value, ans)
        if isinstance(value, gast.UnaryOp):
            d = self.dot_of(value.operand)
            return gast.UnaryOp(op=value.op, operand=d) if isinstance(value.op, (gast.USub, gast.UAdd)) else None
        if isinstance(value, gast.Subscript):
            return gast.Subscript(value=self.dot_of(value.value), slice=copy.deepcopy(value.slice),
                                  ctx=gast.Load())
        if isinstance(value, gast.Attribute):
            if value.attr == "flat" and isinstance(value.value, gast.Name) and (
                    value.value.id in self.act.arrays or leaf_kind(self.act.kinds.get(value.value.id)) is not None):
                # numpy's flat iterator kept as a value: a loop walks it whole (rt.as_sequence), where
                # Python's resumes after a break (was: a second loop over it found nothing, a wrong
                # value); reverse mode refuses it (contributions.FLAT_ADVICE), so jvp transposes and says so
                self.fail(s, FLAT_ADVICE.format(value.value.id))
            base = self.dot_of(value.value)
            if value.attr in registry.ATTRIBUTES:
                return gast.Attribute(value=base, attr=value.attr, ctx=gast.Load())
            return call(self.rt("tangent_attribute"), [base, value.value, const(value.attr)])
        if isinstance(value, (gast.Tuple, gast.List)):
            return type(value)(elts=[self.dot_or_zero(e) for e in value.elts], ctx=gast.Load())
        if isinstance(value, gast.Dict):
            return gast.Dict(keys=list(value.keys), values=[self.dot_or_zero(v) for v in value.values])
        if isinstance(value, gast.Call):
            return self.call_tangent(s, value, ans)
        self.fail(s, f"forward mode has no tangent for {type(value).__name__}")

    def dot_or_zero(self, node):
        d = self.dot_of(node)
        return d if d is not None else call(self.rt("zero_tangent"), [node])

    def fit(self, expr, ans: str):
        """A tangent that may have a smaller (broadcast) shape, brought to ans's shape."""
        return call(self.rt("broadcast_like"), [expr, load(ans)])

    def binop(self, value: gast.BinOp, ans: str):
        """``a <op> b`` is the op of ``operator`` reverse mode differentiates: its tangent comes
        from the same rule and facts as a call's."""
        a, b = value.left, value.right
        if isinstance(value.op, (gast.Add, gast.Sub)) and (self.is_list(a) or self.is_list(b)):
            # a list's concatenation (its tangents concatenated), or numpy's sum or difference of a
            # list and an array (``[a, b] - x``: numpy's, the tangents' difference; was their sum)
            return gast.BinOp(left=self.dot_or_zero(a), op=type(value.op)(), right=self.list_tangent(b))
        if isinstance(value.op, gast.Mult) and (self.may_be_sequence(a) or self.may_be_sequence(b)):
            # ``xs * n``: a list or tuple repeated (its tangent repeated), or a product; which one
            # is known when it runs (was the product's rule: ``xs * dot_n``, a TypeError)
            return call(self.rt("repeat_tangent"), [self.dot_or_zero(a), self.dot_or_zero(b), a, b])
        op = OPERATORS.get(type(value.op))
        rule = registry.lookup(op) if op is not None else None
        if rule is None:
            self.fail(value, f"forward mode has no tangent for the operator {type(value.op).__name__}")
        info = CallInfo(CallKind.OP, obj=op, rule=rule)
        node = gast.Call(func=_method_op_reference(self, info), args=[a, b], keywords=[])

        def apply(args, keywords):
            return gast.BinOp(left=args[0], op=value.op, right=args[1])
        return self.op_tangent(value, info, node, ans, apply)

    def may_be_sequence(self, node) -> bool:
        """May ``node`` be a list or tuple (a literal, a name some assignment binds to one, a
        sequence argument)?"""
        if isinstance(node, (gast.List, gast.Tuple)):
            return True
        if not isinstance(node, gast.Name):
            return False
        kind = self.act.kinds.get(node.id)
        return node.id in self.act.lists or node.id in getattr(self.act, "sequences", ()) or \
            (isinstance(kind, tuple) and kind[:1] == ("seq",))

    def is_list(self, node) -> bool:
        return isinstance(node, gast.List) or (isinstance(node, gast.Name) and node.id in self.act.lists)

    def list_tangent(self, node):
        if isinstance(node, gast.List):
            return gast.List(elts=[self.dot_or_zero(e) for e in node.elts], ctx=gast.Load())
        return self.dot_or_zero(node)

    def call_tangent(self, s, value: gast.Call, ans: str):
        info: CallInfo = self.act.call_info(value)
        if info.kind == CallKind.OP or (info.kind == CallKind.METHOD and info.rule is not None):
            node = value if info.kind == CallKind.OP else gast.Call(
                func=value.func, args=[load(info.receiver)] + list(value.args), keywords=value.keywords)
            return self.op_tangent(s, info, node, ans)
        if info.kind in (CallKind.FUNCTION, CallKind.METHOD, CallKind.SITE):
            if any(isinstance(a, gast.Starred) for a in value.args) or \
                    any(self.act.is_active(k.value) for k in value.keywords):
                self.fail(s, "forward mode follows traced values passed positionally to functions")
            if info.kind == CallKind.METHOD:
                maker, head = "jvp_method", [load(info.receiver), const(info.method)]
                args = [load(info.receiver)] + list(value.args)
            elif isinstance(value.func, gast.Name) and value.func.id in self.act.active:
                maker, head = "jvp_method", [value.func, const("__call__")]
                args = [value.func] + list(value.args)
            else:
                maker, head = "jvp_call", [value.func]
                args = list(value.args)
            pair = call(self.rt(maker), head + [gast.Tuple(elts=args, ctx=gast.Load()),
                                                gast.Tuple(elts=[self.dot_or_zero(a) for a in args],
                                                           ctx=gast.Load())], value.keywords)
            return _JointCall(pair)
        # (dlupdate: written out where it can be, sct/dlupdates.py)
        with marking_dlupdate(info.obj if info.kind == CallKind.PLAIN else None, getattr(s, "lineno", None)):
            self.fail(s, "no derivative rule for this call in forward mode; add one with @sct.defrule "
                      "(see help(sct.defrule))")

    def op_tangent(self, s, info: CallInfo, node: gast.Call, ans: str, apply=None):
        """The tangent of ``node`` (a call of an op, or ``apply``'s rebuilding of an operator)
        from the op's facts: linear, then elementwise, else its rule transposed."""
        rule = info.rule
        facts = registry.facts_of(info.obj)
        varargs = any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in rule.signature.parameters.values())
        if (varargs and not (facts.linear or facts.joint_linear)) or facts.many_outputs:
            self.fail(s, f"forward mode does not follow {rule.name} yet (it takes or returns a "
                      "variable number of arrays)")
        if starred_unbound(node, self.bound_active):
            # which parameter each item of *parts reaches is known only when it runs: binding the
            # starred list as one argument gave np.where(*[m, a, t]) a zero tangent
            self.fail(s, starred_op_refusal(rule.name))
        bound = bind_arguments(rule, node, self.filename, getattr(s, "lineno", 0))
        active = [p for p in rule.wrt if self.bound_active(bound.get(p))]
        if apply is None:
            func = copy.deepcopy(node.func) if info.kind == CallKind.OP else _method_op_reference(self, info)

            def apply(args, keywords):
                return gast.Call(func=func, args=args, keywords=keywords)
        names = list(rule.signature.parameters)

        def substituted(dotted):
            """The op applied with the arguments named in ``dotted`` replaced by their tangents."""
            def tangent_of(name, a):
                if name == "initial":           # np.sum(a, initial=c): the constant has no tangent
                    return gast.Constant(value=0, kind=None)
                return self.dot_or_zero(a) if name in dotted else a
            args = [tangent_of(names[i] if i < len(names) else "", a) for i, a in enumerate(node.args)]
            keywords = [gast.keyword(arg=k.arg, value=tangent_of(k.arg, k.value)) for k in node.keywords]
            return apply(args, keywords)
        if not active:
            return call(self.rt("zero_adjoint"), [load(ans)])
        if _gives_python_float(info.obj) and not self.float_operands:
            # math.exp(x0), float(x0) of a float32 element: the value is a float64 Python float, so is
            # its tangent (was float32, and computed in float32)
            self.float_operands = True
            try:
                tangent = self.op_tangent(s, info, node, ans, apply)
            finally:
                self.float_operands = False
            # (the partial too is read on the operands as they are: np.cos(x0) of a float32 x0)
            return call(self.rt("float64_tangent"), [tangent])
        cast = cast_dtype(rule, bound)
        if cast is not None:        # np.sum(x, dtype=int): piecewise constant, a zero tangent
            return call(self.rt("cast_kept"), [self.op_tangent_of(s, info, node, ans, bound, active, apply,
                                                                  substituted, facts),
                                               copy.deepcopy(cast)])
        return self.op_tangent_of(s, info, node, ans, bound, active, apply, substituted, facts)

    def op_tangent_of(self, s, info, node, ans, bound, active, apply, substituted, facts):
        rule = info.rule
        if facts.joint_linear and set(active) <= set(facts.joint_linear):
            out = substituted(set(facts.joint_linear))
            if rule.op is registry_setitem() and "value" in active and len(out.args) == 3 and not out.keywords:
                # x[idx] = value: the items rounded into an integer or bool x, and those a later item of
                # the same write overwrites, carry no tangent (the reverse rule's rt.last_writes mask)
                x, idx, value = (copy.deepcopy(a) for a in node.args)
                out.args[2] = call(self.rt("masked"), [out.args[2], call(self.rt("last_writes"), [x, idx, value])])
            return out
        if facts.linear and set(active) <= set(facts.linear):
            return _sum([substituted({p}) for p in active])
        if not facts.elementwise:
            return self.transposed(info, node, bound, active, ans)
        terms = []
        for p in active:
            term = self.elementwise(rule, p, bound, ans)
            if term is None:
                return self.transposed(info, node, bound, active, ans)
            terms.append(term)
        expr = simplify(_sum(terms))
        expr = python_base_powers(rule, expr, bound, self.act, self.rt("base_power"))     # (sct/templates.py)
        # the terms have the shape of their operands: brought to ans's shape unless every other
        # operand is a number (``x ** 2``) or has a term of its own (``x * y``, both traced)
        if all(isinstance(v, gast.Constant) or isinstance(v, gast.Name) and p in active
               for p, v in bound.items()):
            return expr
        return self.fit(expr, ans)

    def bound_active(self, node) -> bool:
        if isinstance(node, gast.Name):
            return node.id in self.act.active
        if isinstance(node, (gast.Tuple, gast.List)):
            return any(self.bound_active(e) for e in node.elts)
        return False

    def elementwise(self, rule, param: str, bound, ans: str):
        """``dot * partial`` when the rule for ``param`` is ``g`` times a factor (an elementwise
        rule): for complex values only ``g * conj(partial)`` qualifies (holomorphic ops)."""
        template = rule.templates()[param]
        if isinstance(template, gast.Call) and _callee_name(template) == "unbroadcast":
            template = template.args[0]
        found = _coefficient(template)
        if found is None:
            return None
        sign, factor = found
        operand = bound.get(param)
        complex_operand = isinstance(operand, gast.Name) and operand.id in self.act.maybe_complex or \
            ans in self.act.maybe_complex
        # the rule multiplies by conj(partial): for complex values partial must be holomorphic
        partial = _unconjugate(factor) if complex_operand else _strip_conj(factor)
        if partial is None:
            return None
        d = self.dot_of(bound[param])
        if _contains_g(partial):
            return None
        mapping = {"ans": ans}
        from .contributions import scalar_lists_as_arrays
        mapping.update(scalar_lists_as_arrays(rule, bound, self.act, self.rt("scalar_list_array")))
        if isinstance(partial, gast.BinOp) and isinstance(partial.op, gast.Div) and _is_one(partial.left):
            op, partial = gast.Div(), partial.right          # dot / b, not dot * (1 / b)
        else:
            op = gast.Mult()
        term = gast.BinOp(left=d, op=op, right=instantiate_template(
            partial, mapping, rule_namespace(rule.fn), self.np, self.rt_names, self.rt_name))
        guard_rule_globals(self.act.resolver.guards, partial, mapping, rule.fn)
        if isinstance(d, gast.Name) and any(_log_name(n) in _LOG_NAMES for n in walk_nodes(partial)):
            # a partial with a log (x ** k in k: NaN where x < 0, rt.exponent_log's for a float k)
            # times a tangent that is the zero marker at run time (a constant's, e.g. a residual):
            # zero, not 0 * NaN
            # and where the tangent is an array of zeros (np.floor(t)'s, np.round's, np.sign's: their
            # rules give zeros, not the marker) its items are zero too, not 0 * NaN: x ** np.floor(t)
            # at x < 0 gave a NaN tangent where reverse mode and central differences give numbers
            masked = call(f"{self.np}.where", [gast.Compare(left=load(d.id), ops=[gast.Eq()],
                                                            comparators=[const(0)]), const(0), term])
            term = gast.IfExp(test=call(self.rt("is_zero_tangent"), [load(d.id)]), body=load(d.id),
                              orelse=masked)
        return gast.UnaryOp(op=gast.USub(), operand=term) if sign < 0 else term

    def transposed(self, info: CallInfo, node: gast.Call, bound, active: List[str], ans: str):
        """The rule transposed at run time: exact for every op with a rule."""
        names = list(info.rule.signature.parameters)
        args = list(node.args)
        dots = [self.dot_or_zero(a) if i < len(names) and names[i] in active and self.bound_active(a)
                else const(None) for i, a in enumerate(args)]
        keywords = [k for k in node.keywords]
        kw_dots = gast.Dict(keys=[const(k.arg) for k in keywords if k.arg in active],
                            values=[self.dot_or_zero(k.value) for k in keywords if k.arg in active])
        op = copy.deepcopy(node.func) if info.kind == CallKind.OP else _method_op_reference(self, info)
        return call(self.rt("op_jvp"), [op, gast.Tuple(elts=args, ctx=gast.Load()),
                                        gast.Dict(keys=[const(k.arg) for k in keywords],
                                                  values=[k.value for k in keywords]),
                                        gast.Tuple(elts=dots, ctx=gast.Load()), kw_dots, load(ans)])


def _gives_python_float(obj) -> bool:
    """Is ``obj`` a function whose value Python gives as a float (math's, the builtin ``float``)?"""
    import math
    return obj is float or callable(obj) and getattr(obj, "__module__", None) == "math" and \
        getattr(math, getattr(obj, "__name__", ""), None) is obj


def _pair(a: str, b: str, value) -> gast.Assign:
    return gast.Assign(targets=[gast.Tuple(elts=[store(a), store(b)], ctx=gast.Store())], value=value,
                       type_comment=None)


class _JointCall:
    """A call whose forward returns the value and its tangent together."""

    def __init__(self, pair):
        self.pair = pair


def _method_op_reference(transformer: TangentTransformer, info: CallInfo):
    name = transformer.rt_names.get(id(info.obj))
    if name is not None:
        return attr(load(transformer.rt_name), name)
    module = getattr(info.obj, "__module__", "") or ""
    if module_top(info.obj) == "numpy" and getattr(np, info.obj.__name__, None) is info.obj:
        return attr(load(transformer.np), info.obj.__name__)
    # an operator (``a % b`` transposed) or another op: kept in the runtime namespace
    label = f"{module.split('.')[-1].strip('_')}_{getattr(info.obj, '__name__', 'op')}"
    return attr(load(transformer.rt_name), _reach(info.obj, label, transformer.rt_names))


def _contains_g(node) -> bool:
    return any(isinstance(n, gast.Name) and n.id == "g" for n in gast.walk(node))


def _coefficient(expr):
    """``(sign, factor)`` with ``expr == sign * g * factor``, or None."""
    if _is_g(expr):
        return 1, const(1)
    if isinstance(expr, gast.UnaryOp) and isinstance(expr.op, gast.USub):
        inner = _coefficient(expr.operand)
        return None if inner is None else (-inner[0], inner[1])
    if isinstance(expr, gast.BinOp) and isinstance(expr.op, gast.Mult):
        left, right = _contains_g(expr.left), _contains_g(expr.right)
        if left == right:
            return None
        inner = _coefficient(expr.left if left else expr.right)
        other = expr.right if left else expr.left
        if inner is None:
            return None
        factor = other if _is_one(inner[1]) else gast.BinOp(left=inner[1], op=gast.Mult(), right=other)
        return inner[0], factor
    if isinstance(expr, gast.BinOp) and isinstance(expr.op, gast.Div) and _contains_g(expr.left) and \
            not _contains_g(expr.right):
        inner = _coefficient(expr.left)
        if inner is None:
            return None
        return inner[0], gast.BinOp(left=inner[1], op=gast.Div(), right=expr.right)
    return None


def _is_one(node) -> bool:
    return isinstance(node, gast.Constant) and node.value == 1


def _strip_conj(expr):
    """``np.conj(e)`` is ``e`` for real values."""
    class Strip(gast.NodeTransformer):
        def visit_Call(self, node):
            self.generic_visit(node)
            if _callee_name(node) in ("conj", "conjugate") and len(node.args) == 1:
                return node.args[0]
            return node
    return Strip().visit(copy.deepcopy(expr))


def _callee_name(node) -> str:
    func = node.func
    return func.attr if isinstance(func, gast.Attribute) else getattr(func, "id", "")


def _is_g(node) -> bool:
    return isinstance(node, gast.Name) and node.id == "g"


def _is_real_constant(node) -> bool:
    return isinstance(node, gast.Constant) and isinstance(node.value, (int, float)) and \
        not isinstance(node.value, bool)


def registry_setitem():
    """The runtime's ``setitem`` (``x[idx] = value`` as generated code writes it)."""
    from .runtime.support import setitem
    return setitem


def _sum(terms: List):
    expr = terms[0]
    for term in terms[1:]:
        if isinstance(term, gast.UnaryOp) and isinstance(term.op, gast.USub):
            expr = gast.BinOp(left=expr, op=gast.Sub(), right=term.operand)
        else:
            expr = gast.BinOp(left=expr, op=gast.Add(), right=term)
    return expr


def _unconjugate(expr):
    """``e`` with ``expr == conj(e)`` (conjugation commutes with + - * /), or None."""
    if isinstance(expr, gast.Call) and _callee_name(expr) in ("conj", "conjugate") and \
            len(expr.args) == 1 and not expr.keywords:
        return expr.args[0]
    if _is_real_constant(expr):
        return expr
    if isinstance(expr, gast.UnaryOp) and isinstance(expr.op, (gast.USub, gast.UAdd)):
        inner = _unconjugate(expr.operand)
        return None if inner is None else gast.UnaryOp(op=expr.op, operand=inner)
    if isinstance(expr, gast.BinOp) and isinstance(expr.op, (gast.Add, gast.Sub, gast.Mult, gast.Div)):
        left, right = _unconjugate(expr.left), _unconjugate(expr.right)
        return None if left is None or right is None else gast.BinOp(left=left, op=expr.op, right=right)
    return None
