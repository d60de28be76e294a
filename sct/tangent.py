"""Forward mode: the tangent of every value, computed beside the value.

``f(x)`` becomes ``f_jvp(x, dot_x)`` returning ``(f(x), J @ dot_x)``: each
statement ``t = op(a, b)`` is followed by ``dot_t = <tangent of op>``; loops
and branches keep their shape (forward mode needs no tape).  Tangents come
from the op table in three ways, cheapest first:

* ops that are linear in an argument (sums, reshapes, indexing, the runtime's
  adjoint helpers) apply themselves to its tangent;
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

from .runtime import numpy_ops as rt_numpy_ops
from .runtime import registry
from .runtime import support as rt_support

from .analysis import Activity, CallInfo, bind_arguments
from .errors import CompileError
from .ir import assign, attr, call, const, load, loaded_names, store
from .naming import Namer
from .reverse import _function, _number, instantiate_template, simplify

# Ops linear in the named argument: their tangent is the op applied to its tangent.
LINEAR: Dict[Any, str] = {}


def _linear(arg: str, *ops) -> None:
    for op in ops:
        LINEAR[op] = arg


_linear("a", np.sum, np.mean, np.transpose, np.reshape, np.expand_dims, np.squeeze, np.swapaxes,
        np.moveaxis, np.cumsum, np.ravel, np.trace, np.diagonal, np.triu, np.tril, np.flip,
        np.fliplr, np.flipud, np.roll, np.tile, np.repeat, np.take)
_linear("x", np.real, np.imag, np.conj, np.conjugate, np.negative, np.positive)
_linear("array", np.broadcast_to)
_linear("grad", rt_support.unbroadcast, rt_support.index_adjoint, rt_support.zero_at,
        rt_support.getitem_or_zero, rt_support.item_adjoint, rt_support.project,
        rt_support.adjoint_or_zeros, rt_support.list_head, rt_support.list_tail)
_linear("value", rt_support.broadcast_like)
_linear("grad", rt_numpy_ops.reduction_broadcast, rt_numpy_ops.reduction_sum, rt_numpy_ops.tie_scaled)
_linear("a", rt_numpy_ops.reshape_method, rt_numpy_ops.transpose_method)
# Ops linear in several arguments jointly: the op of the tangents.
JOINT_LINEAR = {rt_support.add_grad: ("a", "b"), rt_support.setitem: ("x", "value"),
                rt_support.index_add: ("total", "grad")}


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
            return load(self.dot(node.id))
        return None

    # --- the function ---------------------------------------------------------------------------
    def build(self) -> gast.FunctionDef:
        dots = [self.dot(p) for p in self.params]
        body = self.block(self.fdef.body)
        name = self.namer.fresh(self.fdef.name + "_jvp")
        return _function(name, self.params + dots, body)

    def block(self, stmts: List) -> List:
        from .emit import comment
        from .parse import source_line
        out: List = []
        last = None
        for s in stmts:
            line = getattr(s, "lineno", None)
            if line is not None and line != last:
                text = source_line(self.filename, line)
                out.append(comment(f"line {line}: {text}" if text else f"line {line}"))
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
                tangent = call(self.rt("zero_adjoint"), [value])
            return [gast.Return(value=gast.Tuple(elts=[value, tangent], ctx=gast.Load()))]
        if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Attribute) and \
                isinstance(s.value, gast.Name) and s.value.id in self.act.active:
            self.fail(s, "forward mode cannot follow a traced value stored into an attribute yet")
        return [s]

    def assignment(self, s: gast.Assign) -> List:
        t = s.targets[0].id
        value = s.value
        if t not in self.act.active:
            return [s]
        if not self.act.value_active(value):
            return [s, assign(self.dot(t), call(self.rt("zero_adjoint"), [load(t)]))]
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
        return d if d is not None else call(self.rt("zero_adjoint"), [node])

    def fit(self, expr, ans: str):
        """A tangent that may have a smaller (broadcast) shape, brought to ans's shape."""
        return call(self.rt("broadcast_like"), [expr, load(ans)])

    def binop(self, value: gast.BinOp, ans: str):
        a, b = value.left, value.right
        da, db = self.dot_of(a), self.dot_of(b)
        op = value.op
        if isinstance(op, (gast.Add, gast.Sub)) and (self.is_list(a) or self.is_list(b)):
            return gast.BinOp(left=self.dot_or_zero(a), op=gast.Add(), right=self.list_tangent(b))
        terms = []
        if isinstance(op, gast.Add):
            terms = [da, db]
        elif isinstance(op, gast.Sub):
            terms = [da, gast.UnaryOp(op=gast.USub(), operand=db) if db is not None else None]
        elif isinstance(op, gast.Mult):
            terms = [_mul(da, b), _mul(a, db)]
        elif isinstance(op, gast.Div):
            terms = [_div(da, b), gast.UnaryOp(op=gast.USub(), operand=_div(_mul(load(ans), db), b))
                     if db is not None else None]
        elif isinstance(op, gast.MatMult):
            terms = [_matmul(da, b), _matmul(a, db)]
        elif isinstance(op, gast.Pow):
            # as the reverse rule: the exponent stays 0 where b == 0 (0 * 0 ** -1 is NaN), and
            # log(a) is taken where a != 0 (0 ** b is constant in b: 0 * log(0) is NaN)
            exponent = simplify(gast.BinOp(
                left=copy.deepcopy(b), op=gast.Sub(),
                right=gast.Compare(left=copy.deepcopy(b), ops=[gast.NotEq()], comparators=[const(0)])))
            power = simplify(gast.BinOp(left=copy.deepcopy(a), op=gast.Pow(), right=exponent))
            log_arg = a if _number(a) and a.value > 0 else call(
                attr(load(self.np), "where"),
                [gast.Compare(left=copy.deepcopy(a), ops=[gast.Eq()], comparators=[const(0)]),
                 const(1), copy.deepcopy(a)])
            terms = [_mul(_mul(da, b), power) if da is not None else None,
                     _mul(_mul(db, load(ans)), call(attr(load(self.np), "log"), [log_arg]))
                     if db is not None else None]
        elif isinstance(op, gast.Mod):
            terms = [da]
        present = [t for t in terms if t is not None]
        if not present:
            return call(self.rt("zero_adjoint"), [load(ans)])
        expr = present[0]
        for term in present[1:]:
            expr = gast.BinOp(left=expr, op=gast.Add(), right=term)
        if len(present) == 1 and not isinstance(a if da is None else b, gast.Constant):
            return self.fit(simplify(expr), ans)      # the tangent may be smaller than the value
        return simplify(expr)

    def is_list(self, node) -> bool:
        return isinstance(node, gast.List) or (isinstance(node, gast.Name) and node.id in self.act.lists)

    def list_tangent(self, node):
        if isinstance(node, gast.List):
            return gast.List(elts=[self.dot_or_zero(e) for e in node.elts], ctx=gast.Load())
        return self.dot_or_zero(node)

    def call_tangent(self, s, value: gast.Call, ans: str):
        info: CallInfo = self.act.call_info(value)
        if info.kind == "op" or (info.kind == "method" and info.rule is not None):
            node = value if info.kind == "op" else gast.Call(
                func=value.func, args=[load(info.receiver)] + list(value.args), keywords=value.keywords)
            return self.op_tangent(s, info, node, ans)
        if info.kind in ("function", "method", "site"):
            if any(isinstance(a, gast.Starred) for a in value.args) or \
                    any(self.act.is_active(k.value) for k in value.keywords):
                self.fail(s, "forward mode follows traced values passed positionally to functions")
            if info.kind == "method":
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
        self.fail(s, "no derivative rule for this call in forward mode; add one with @sct.defrule "
                  "(see help(sct.defrule))")

    def op_tangent(self, s, info: CallInfo, node: gast.Call, ans: str):
        rule = info.rule
        varargs = any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in rule.signature.parameters.values())
        if (varargs and info.obj not in LINEAR) or info.obj in registry.CONTAINER_OPS or \
                info.obj in _MANY_OUTPUTS:
            self.fail(s, f"forward mode does not follow {rule.name} yet (it takes or returns a "
                      "variable number of arrays)")
        bound = bind_arguments(rule, node, self.filename, getattr(s, "lineno", 0))
        active = [p for p in rule.wrt if self.bound_active(bound.get(p))]
        func = copy.deepcopy(node.func) if info.kind == "op" else _method_op_reference(self, info)
        names = list(rule.signature.parameters)
        linear = JOINT_LINEAR.get(info.obj) or ((LINEAR[info.obj],) if info.obj in LINEAR else ())
        if linear and set(active) <= set(linear):
            def tangent_of(name, a):
                if name in linear:
                    return self.dot_or_zero(a)
                return a
            args = [tangent_of(names[i] if i < len(names) else "", a) for i, a in enumerate(node.args)]
            keywords = [gast.keyword(arg=k.arg, value=tangent_of(k.arg, k.value)) for k in node.keywords]
            return gast.Call(func=func, args=args, keywords=keywords)
        terms = []
        if not _elementwise_op(info.obj):
            return self.transposed(info, node, bound, active, ans)
        for p in active:
            term = self.elementwise(rule, p, bound, ans)
            if term is None:
                return self.transposed(info, node, bound, active, ans)
            terms.append(term)
        if not terms:
            return call(self.rt("zero_adjoint"), [load(ans)])
        expr = terms[0]
        for term in terms[1:]:
            expr = gast.BinOp(left=expr, op=gast.Add(), right=term)
        if len(rule.wrt) == 1:                   # elementwise in one argument: same shape
            return simplify(expr)
        return self.fit(simplify(expr), ans)

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
        complex_operand = isinstance(operand, gast.Name) and operand.id in self.act.complex or \
            ans in self.act.complex
        if complex_operand:
            if not (isinstance(factor, gast.Call) and _callee_name(factor) in ("conj", "conjugate")):
                return None
            partial = factor.args[0]
        else:
            partial = _strip_conj(factor)
        d = self.dot_of(bound[param])
        if _contains_g(partial):
            return None
        mapping = {"ans": ans}
        mapping.update(bound)
        term = gast.BinOp(left=d, op=gast.Mult(), right=instantiate_template(
            partial, mapping, rule.fn.__globals__, self.np, self.rt_names, self.rt_name))
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
        op = copy.deepcopy(node.func) if info.kind == "op" else _method_op_reference(self, info)
        return call(self.rt("op_jvp"), [op, gast.Tuple(elts=args, ctx=gast.Load()),
                                        gast.Dict(keys=[const(k.arg) for k in keywords],
                                                  values=[k.value for k in keywords]),
                                        gast.Tuple(elts=dots, ctx=gast.Load()), kw_dots, load(ans)])


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
    if module.startswith("numpy") and hasattr(np, info.obj.__name__):
        return attr(load(transformer.np), info.obj.__name__)
    transformer.fail(info.obj, f"forward mode cannot refer to {info.obj!r}")


_MANY_OUTPUTS = {op for op in (np.atleast_1d, np.atleast_2d, np.atleast_3d, np.linalg.eigh,
                                np.linalg.slogdet, np.linalg.svd) if op is not None}


def _elementwise_op(op) -> bool:
    """Ops whose output element depends only on the same input element (and broadcasting)."""
    import math
    from .runtime import nn
    if isinstance(op, np.ufunc):
        return True
    if op in (nn.relu, nn.leakyrelu, nn.sigmoid, abs):
        return True
    return getattr(op, "__module__", None) == "math" or getattr(op, "__self__", None) is math


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


def _mul(a, b):
    if a is None or b is None:
        return None
    return gast.BinOp(left=a, op=gast.Mult(), right=copy.deepcopy(b))


def _div(a, b):
    if a is None:
        return None
    return gast.BinOp(left=a, op=gast.Div(), right=copy.deepcopy(b))


def _matmul(a, b):
    if a is None or b is None:
        return None
    return gast.BinOp(left=a, op=gast.MatMult(), right=copy.deepcopy(b))
