"""The adjoint of one assignment ``t = op(a, b, ...)``: the rule's expression for each operand
(from ``runtime``, by template), accumulated into the operands' adjoints.
"""
from __future__ import annotations

import copy
import functools
import operator
from typing import Any, Dict, List, Set, Tuple

import gast

from .runtime import registry

from .analysis import CallInfo, bind_arguments, index_value, leaf_kind, starred_op_refusal, starred_unbound
from .calls import CallLowering
from .complex_adjoints import ComplexProjection
from .dlupdates import marking_dlupdate
from .unroll import refused_site
from .generation import EmitPass, Generation
from .ir import assign, call, const, dotted_name, load, node_key, rewrite_children, walk_nodes
from .plans import CallKind
from .templates import (BINOP_OPS, SCALAR_SAFE_OPS, UNARY_OPS, _strip_unbroadcast, _zero_power_fix,
                        guard_rule_globals,
                        python_base_powers,
                        instantiate_template, may_hold_conj, rule_namespace, simplify)


def _call_signature(node: gast.Call):
    """The same for two calls whose ``gast.dump`` strings are equal (cheap: callee, argument
    names or kinds, keyword names)."""
    return (dotted_name(node.func) or type(node.func).__name__, len(node.args),
            tuple(a.id if isinstance(a, gast.Name) else type(a).__name__ for a in node.args),
            tuple(k.arg for k in node.keywords))



# ``x.flat`` (numpy's flat iterator) of a traced array: refused here and, where the compiler
# cannot tell that ``x`` is an array, by the runtime (support.attribute_adjoint)
FLAT_ADVICE = ("`{0}.flat` (numpy's flat iterator) kept as a value is not differentiated: index or walk it where "
               "it is read ({0}.flat[i], for v in {0}.flat: read as {0}.flatten()), or read through "
               "np.ravel({0})[i]; build a changed array with np.ravel / reshape")


def reads_marker(contribution) -> bool:
    """Whether a contribution reads an adjoint out of a record or a container: the zero marker
    where nothing reached that part."""
    contribution = _unprojected(contribution)
    return isinstance(contribution, gast.Call) and isinstance(contribution.func, gast.Attribute) and \
        contribution.func.attr in ("getitem_or_zero", "getitem_of_adjoint", "getattr_or_zero", "field_adjoint",
                                   "starred_adjoint")


# calls that give the zero marker in their first argument back unchanged
MARKER_KEEPING = ("real_if_real", "real", "unbroadcast", "masked")


def _unprojected(contribution):
    """The contribution inside the calls that give the zero marker itself back (the realness
    projections ``rt.real_if_real(c, x)``, ``np.real(c)``; ``rt.unbroadcast(c, x)``,
    ``rt.masked(c, m)``): a marker read inside one is still a marker (was:
    ``d + rt.real_if_real(rt.getitem_or_zero(...), x)`` added marker to marker, a plain 0.0 that
    the ``is not rt.ZERO`` tests take for an adjoint: a crash in a rule given a scalar; the same
    through ``rt.unbroadcast(rt.masked(rt.getitem_or_zero(d_dict, k), ...), x)``, a dict item's
    adjoint in a second sweep: np.diag's rule given 0.0, an IndexError)."""
    while isinstance(contribution, gast.Call) and isinstance(contribution.func, gast.Attribute) and \
            contribution.func.attr in MARKER_KEEPING and contribution.args:
        contribution = contribution.args[0]
    return contribution

def dict_pieces(value: gast.Dict, g: str, rt) -> List[Tuple[str, Any]]:
    """``{k0: v0, k1: v1, ...}``: each value's adjoint is its key's item of ``g``, but a value whose
    key a later entry has again is not in the dict (Python keeps the first key and the last value):
    its adjoint is zero (was: ``{"a": x0, "a": x1}`` gave x0 the adjoint of ``d["a"]`` too).  Equal
    constant keys are found here; keys that are names, when it runs (``rt.dict_entry_adjoint``)."""
    keys, pieces = value.keys, []
    constant = all(isinstance(k, gast.Constant) for k in keys)
    for j, (k, v) in enumerate(zip(keys, value.values)):
        if not isinstance(v, gast.Name):
            continue
        if constant:
            try:
                shadowed = k.value in dict.fromkeys(later.value for later in keys[j + 1:])
            except TypeError:          # (an unhashable key: the dict itself raises first)
                shadowed = False
            if not shadowed:
                pieces.append((v.id, call(rt("getitem_or_zero"), [load(g), k])))
        else:
            tup = gast.Tuple(elts=[copy.deepcopy(e) for e in keys], ctx=gast.Load())
            pieces.append((v.id, call(rt("dict_entry_adjoint"), [load(g), tup, const(j)])))
    return pieces


class Contributions(EmitPass):
    """The adjoint contributions of one assignment: each op's rule with the call's names put
    in, shared calls made once, accumulated into the operands' adjoints.  Calls the helper
    pairs of ``calls`` and the complex projection of ``complex``."""

    def __init__(self, gen: Generation, calls: CallLowering, complex: ComplexProjection):
        super().__init__(gen)
        self.calls = calls
        self.complex = complex
        self.pending_pre: List = []             # statements before a contribution
        # what it records: id(helper call) -> the argument positions whose adjoints a sweep reads
        self.adjoint_reads: Dict[int, Set[int]] = {}

    # --- contributions ---------------------------------------------------------------------------
    def accumulate(self, name: str, contribution, state, depth: int) -> gast.Assign:
        dn = self.gen.d(name)
        if name not in state["initialized"] and depth == 0:
            state["initialized"].add(name)
            return assign(dn, contribution)
        state["initialized"].add(name)
        may_be_marker = isinstance(_unprojected(contribution), gast.Subscript) or reads_marker(contribution)
        if self.gen.adds_as_array(name) and not may_be_marker:
            # (an adjoint read from a container or a helper's results may be the zero marker:
            # add_grad keeps it the marker, where marker + marker would be a plain 0.0)
            return assign(dn, gast.BinOp(left=load(dn), op=gast.Add(), right=contribution))
        return assign(dn, call(self.rt("add_grad"), [load(dn), contribution]))

    def contributions(self, s: gast.Assign, g: str, ans: str, state, depth: int) -> List:
        value = s.value
        self.pending_pre = []
        pieces = self.value_pieces(s, value, g, ans)      # (operand name, contribution expr)
        out = list(self.pending_pre)
        # a generated adjoint may give the zero marker for an argument it did not reach
        marker_possible = isinstance(value, (gast.Tuple, gast.List, gast.Dict)) or \
            isinstance(value, gast.Call) and bool(self.pending_pre) and \
            self.act.call_info(value).kind in (CallKind.FUNCTION, CallKind.METHOD, CallKind.SITE)
        for name, contribution in pieces:
            if not self.reads_adjoint_of(name):
                continue
            contribution = self.complex.project_realness(name, contribution, value)
            out.append(self.accumulate(name, contribution, state, depth))
            if marker_possible or reads_marker(contribution):
                # (an adjoint read from an adjoint record, `getattr_or_zero(d_obj, 'w')` in a
                # higher derivative, is the marker where no contribution reached that field)
                state.setdefault("maybe_zero", set()).add(name)
        return out

    def value_pieces(self, s: gast.Assign, value, g: str, ans: str) -> List[Tuple[str, Any]]:
        """What ``t = value`` contributes to each operand's adjoint, given t's adjoint ``g``."""
        if isinstance(value, gast.Name):
            return [(value.id, load(g))]
        if isinstance(value, (gast.BinOp, gast.UnaryOp)) and \
                type(value.op) not in BINOP_OPS and type(value.op) not in UNARY_OPS:
            return []      # `not`, `~`, `//`, bit operations: boolean or piecewise-constant results
        if isinstance(value, gast.BinOp):
            return self.binop_pieces(value, g, ans, s)
        if isinstance(value, gast.UnaryOp):
            return self.operator_pieces(UNARY_OPS[type(value.op)], [value.operand], g, ans, s)
        if isinstance(value, gast.Subscript):
            return self.operator_pieces(operator.getitem,
                                        [value.value, index_value(value.slice, self.gen.rt_name)],
                                        g, ans, s)
        if isinstance(value, gast.Attribute):
            return self.attribute_pieces(value, g, ans, s)
        if isinstance(value, (gast.Tuple, gast.List)):
            # an item no adjoint reached keeps the zero marker (``contributions`` marks it maybe
            # zero): no rule runs on zeros; the sweep's results materialise it where returned
            return [(e.id, call(self.rt("getitem_or_zero"), [load(g), const(i)]))
                    for i, e in enumerate(value.elts) if isinstance(e, gast.Name)]
        if isinstance(value, gast.Dict):
            return dict_pieces(value, g, self.rt)
        if isinstance(value, gast.Call):
            return self.call_pieces(s, value, g, ans)
        return []

    def binop_pieces(self, value: gast.BinOp, g: str, ans: str, s) -> List[Tuple[str, Any]]:
        pieces: List[Tuple[str, Any]] = []
        if value.op.__class__ is gast.Add and self.is_list(value) and not any(
                isinstance(o, gast.Name) and (o.id in self.act.arrays or
                                              leaf_kind(self.act.kinds.get(o.id)) is not None)
                for o in (value.left, value.right)):
            # (an operand that may hold an array: ``v = [..]`` elsewhere, ``v = v + x`` here with v
            # an array, was given list adjoints: a TypeError in the sweep; the runtime tells below)
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
                isinstance(o, gast.Constant) or isinstance(o, gast.Name) and self.gen.is_array(o.id)
                for o in (value.left, value.right)):
            # operands not known to be arrays may be lists or tuples (concatenated): the
            # runtime tells (``l[:0] + m``: m's adjoint is its part of the list adjoint)
            left, right = value.left, value.right
            for side, o in (("concat_head", left), ("concat_tail", right)):
                if isinstance(o, gast.Name) and o.id in self.act.active:
                    pieces.append((o.id, call(self.rt(side), [load(g), left, right])))
            if isinstance(right, gast.List):      # v + [a] (v.append(a)), v may be an array here
                tail = call(self.rt("concat_tail"), [load(g), left, right])
                for i, e in enumerate(right.elts):
                    if isinstance(e, gast.Name) and e.id in self.act.active:
                        pieces.append((e.id, call(self.rt("getitem_or_zero"), [copy.deepcopy(tail), const(i)])))
        elif value.op.__class__ is gast.Mult and self.may_repeat(value):
            # ``l * 2``: each item's adjoint is the sum over its copies (a number for an
            # array operand: the count is a constant int, never traced)
            for seq, n in ((value.left, value.right), (value.right, value.left)):
                if isinstance(seq, gast.Name) and seq.id in self.act.active:
                    pieces.append((seq.id, call(self.rt("repeat_adjoint"), [load(g), seq, n])))
        else:
            pieces += self.operator_pieces(BINOP_OPS[type(value.op)], [value.left, value.right], g, ans, s)
        return pieces

    def attribute_pieces(self, value: gast.Attribute, g: str, ans: str, s) -> List[Tuple[str, Any]]:
        return _attribute_pieces(self, value, g, ans, s)

    def operator_pieces(self, op, operands, g: str, ans: str, s):
        rule = registry.lookup(op)
        if rule is None:
            self.fail(s, f"no derivative rule for the operator {op.__name__}; add one with "
                      "@sct.defrule (see help(sct.defrule))", "operator")
        return self.rule_pieces(rule, self.bind(rule, operands, []), g, ans, s)

    def may_repeat(self, value: gast.BinOp) -> bool:
        return _may_repeat_impl(self, value)

    def is_list(self, value: gast.BinOp) -> bool:
        return any(isinstance(o, (gast.Name)) and o.id in self.act.lists or isinstance(o, gast.List)
                   for o in (value.left, value.right))

    def bind(self, rule, args, keywords):
        node = gast.Call(func=load("_"), args=list(args), keywords=list(keywords))
        return bind_arguments(rule, node, self.gen.filename, getattr(node, "lineno", 0))

    def call_pieces(self, s, value: gast.Call, g: str, ans: str):
        info: CallInfo = self.act.call_info(value)
        if info.kind == CallKind.OP or (info.kind == CallKind.CREATE and value.args):
            if any(isinstance(a, gast.Starred) for a in value.args) or any(k.arg is None for k in value.keywords):
                self.fail(s, starred_op_refusal(info.rule.name), "starred argument")
            bound = bind_arguments(info.rule, value, self.gen.filename, s.lineno)
            return self.rule_pieces(info.rule, bound, g, ans, s)
        if info.kind == CallKind.METHOD and info.rule is not None:
            bound = self.bind(info.rule, [load(info.receiver)] + list(value.args), value.keywords)
            if any(k.arg is None for k in value.keywords) or starred_unbound(value, self.act.is_active) or \
                    any(isinstance(v, gast.Starred) for v in bound.values()):
                # x.dot(*args): the starred list bound as one argument had no adjoint (a zero
                # gradient); constants a *shape parameter collects (x.reshape(*shape)) bind as written
                self.fail(s, starred_op_refusal(f".{info.method}"), "starred argument")
            return self.rule_pieces(info.rule, bound, g, ans, s)
        if info.kind == CallKind.SITE and id(s) not in self.gen.site_records:
            return []
        if info.kind in (CallKind.FUNCTION, CallKind.METHOD) and id(s) not in self.gen.site_calls and \
                not self.calls.uses_vjp(s):
            return []       # b = Box(): no traced argument, run as it is (b traced only by later writes)
        if info.kind in (CallKind.FUNCTION, CallKind.METHOD, CallKind.SITE):
            parts = self.calls.vjp_parts(s)
            grads = self.namer.fresh(f"d_{s.targets[0].id}_args")
            self.pending_pre.append(assign(grads, call(parts.bwd, [load(parts.residuals), load(g)])))
            if any(isinstance(a, gast.Starred) for a in parts.args):
                # f(*xs): the adjoints of xs are a run of the results, found when it runs
                values = [a.value if isinstance(a, gast.Starred) else a for a in parts.args]
                flags = self.calls.starred_flags(parts.args)
                # by argument (``starred_mask`` repeats a starred one's flag once per item): the
                # pair skips the adjoint of an argument no sweep reads (a network's inputs)
                self.note_adjoint_reads(s, [i for i, v in enumerate(values) if isinstance(v, gast.Name)
                                            and self.reads_adjoint_of(v.id)])
                return [(v.id, call(self.rt("starred_adjoint"), [load(grads), const(i), flags] + values))
                        for i, v in enumerate(values) if isinstance(v, gast.Name)]
            pieces = [(a.id, gast.Subscript(value=load(grads), slice=const(i), ctx=gast.Load()))
                      for i, a in enumerate(parts.args) if isinstance(a, gast.Name)]
            self.note_adjoint_reads(s, [i for i, a in enumerate(parts.args) if isinstance(a, gast.Name)
                                        and self.reads_adjoint_of(a.id)])
            return pieces
        if info.kind == CallKind.PLAIN and info.obj is None and _raises_first(self, s, value):
            return []               # raises where it runs, before any derivative (_raises_first)
        if info.kind == CallKind.PLAIN and registry.is_run_as_is(info.obj) and _roots_made_by(self.gen, s, info.obj):
            # p, vel = sgdmupdate(p, g, vel, ...) then a dlgradient with respect to the new p only: what the sweep
            # differentiates with respect to is made after the call, so no derivative passes through it (was:
            # refused, red50 FR2; in a loop, once the loop is written out)
            return []
        if info.kind == CallKind.PLAIN:
            _refuse_plain_call(self, s, info, value)
        return []

    def reads_adjoint_of(self, name: str) -> bool:
        """Does this sweep take ``name``'s adjoint further (the filter of ``contributions``)?"""
        relevant = self.gen.scope.relevant
        return name in self.act.active and (relevant is None or name in relevant)

    def note_adjoint_reads(self, s, positions) -> None:
        """The argument positions of a helper call whose adjoints a sweep reads: recorded for
        the pair's mask (``CallLowering.mask``); a second generation checks it asks for no more."""
        positions = set(positions)
        self.adjoint_reads.setdefault(id(s), set()).update(positions)
        if self.gen.read_plan is not None and id(s) in self.gen.read_plan and \
                not positions <= self.gen.read_plan[id(s)]:
            self.fail(s, "internal error: a sweep reads the adjoint of an argument the helper's pair "
                      "was not asked for; please report this with the function's source", "call")

    describe = staticmethod(lambda func: _describe(func))     # the source of ``func``, for messages

    def rule_pieces(self, rule, bound: Dict[str, Any], g: str, ans: str, s):
        if rule is None:
            self.fail(s, "no derivative rule for this operation; add one with @sct.defrule "
                      "(see help(sct.defrule))", "operation")
        pieces = []
        templates = rule.templates()
        globals_ = rule_namespace(rule.fn)
        mapped = self.scalar_lists_as_arrays(rule, bound)      # what the templates read
        for param in rule.wrt:
            arg = bound.get(param)
            if not isinstance(arg, gast.Name) or arg.id not in self.act.active:
                if isinstance(arg, (gast.Tuple, gast.List)) and any(
                        isinstance(e, gast.Name) and e.id in self.act.active for e in arg.elts):
                    expr = self.instantiate(templates[param], rule, mapped, g, ans, globals_)
                    tmp = self.namer.fresh(f"d_{s.targets[0].id}_{param}")
                    self.gen.adjoint_temps[tmp] = expr      # (its items are as real as expr)
                    self.pending_pre.append(assign(tmp, expr))
                    for i, e in enumerate(arg.elts):
                        if isinstance(e, gast.Name):
                            pieces.append((e.id, call(self.rt("getitem_or_zero"), [load(tmp), const(i)])))
                continue
            expr = self.instantiate(templates[param], rule, mapped, g, ans, globals_)
            expr = stop_constant_exponents(expr, bound, self.act.active, self.rt("stop_gradient"))
            if rule.op in SCALAR_SAFE_OPS and all(
                    isinstance(bound.get(other), gast.Constant) and
                    isinstance(bound[other].value, (int, float)) for other in rule.wrt if other != param):
                expr = _strip_unbroadcast(expr, self.gen.rt_name)   # a number never broadcasts the other
            pieces.append((arg.id, python_base_powers(rule, simplify(expr), bound, self.act, self.rt("base_power"))))
        return self.share_common_calls(pieces, s)

    def scalar_lists_as_arrays(self, rule, bound: Dict[str, Any]) -> Dict[str, Any]:
        return scalar_lists_as_arrays(rule, bound, self.act, self.rt("scalar_list_array"))

    def share_common_calls(self, pieces, s):
        """A call that several of one op's contributions make (a custom layer's backward, say)
        is made once, into a temporary."""
        if len(pieces) < 2:
            return pieces
        # first by what equal dumps need: the same callee, arguments and keywords (most ops share
        # no call), then by keys equal exactly where the dumps are (sct.ir.node_key)
        for key_of in (_call_signature, node_key):
            counts: Dict[Any, int] = {}
            for _, expr in pieces:
                for key in {key_of(n) for n in walk_nodes(expr) if isinstance(n, gast.Call)}:
                    counts[key] = counts.get(key, 0) + 1
            if all(count < 2 for count in counts.values()):
                return pieces
        # every call made by two or more contributions (or by two calls made once) is made once, the
        # largest first; a smaller one inside a larger is hoisted later and computed before it
        hoisted: List[Tuple[str, Any]] = []
        while True:
            seen: Dict[str, int] = {}
            for expr in [e for _, e in pieces] + [h for _, h in hoisted]:
                for dump in dict.fromkeys(gast.dump(n) for n in _always_made_calls(expr)):
                    seen[dump] = seen.get(dump, 0) + 1
            shared = [d for d, count in seen.items() if count > 1]
            if hoisted:                 # after the largest: no shape look-ups (cheaper than a name)
                shared = [d for d in shared if not d.startswith(_CHEAP_CALLS)]
            if not shared:
                break
            largest = max(shared, key=len)
            name = self.namer.fresh(f"d_{s.targets[0].id}_parts")
            node = next(n for e in [e for _, e in pieces] + [h for _, h in hoisted] for n in _always_made_calls(e)
                        if gast.dump(n) == largest)
            node = copy.deepcopy(node)

            class Replace(gast.NodeTransformer):
                def visit_Call(self, n):
                    if gast.dump(n) == largest:
                        return load(name)
                    self.generic_visit(n)
                    return n
            pieces = [(target, Replace().visit(expr)) for target, expr in pieces]
            hoisted = [(name, node)] + [(h_name, Replace().visit(h)) for h_name, h in hoisted]
        for h_name, h in hoisted:
            self.gen.adjoint_temps[h_name] = h              # (as real as the call it holds)
            self.pending_pre.append(assign(h_name, h))
        return pieces

    def instantiate(self, template, rule, bound, g: str, ans: str, globals_):
        mapping: Dict[str, Any] = {"g": g, "ans": ans}
        mapping.update(bound)
        cast = cast_dtype(rule, bound)
        if cast is not None:        # np.sum(x, dtype=int): x is truncated first, the adjoint is zero
            mapping["g"] = call(self.rt("cast_kept"), [load(g), copy.deepcopy(cast)])
        expr = instantiate_template(template, mapping, globals_, self.gen.np, self.gen.rt_names,
                                    self.gen.rt_name)
        guard_rule_globals(self.gen.resolver.guards, template, mapping, rule.fn)
        if not may_hold_conj(template, mapping):
            return expr         # no conj to elide (elide_conj would walk it to find none)
        return self.complex.elide_conj(expr)


def scalar_lists_as_arrays(rule, bound: Dict[str, Any], act, convert) -> Dict[str, Any]:
    """``bound`` as a numpy function's rule reads it where a differentiable argument is a list or
    tuple of traced numbers (``np.hypot(xs, 1.0)`` with ``xs = [a, b]``, ``np.sinc([a, b])``): the
    array numpy makes of it (``convert``, ``rt.scalar_list_array``: a list of numbers as an array,
    anything else as it is), not the list (was: the rule's arithmetic on the list, a TypeError
    while computing the gradient or the tangent).  Only for the templates: which names get the
    adjoints is read from ``bound`` itself."""
    if not registry.reads_lists_as_arrays(rule.op):
        return bound            # (``[a, b] @ x`` is numpy's matmul of the list as an array: converted)
    lists = act.lists | act.sequences
    out = None
    for param in rule.wrt:
        arg = bound.get(param)
        if isinstance(arg, (gast.Tuple, gast.List)) and any(
                isinstance(e, gast.Name) and e.id in act.active for e in arg.elts) or \
                isinstance(arg, gast.Name) and arg.id in lists and arg.id in act.active:
            out = dict(bound) if out is None else out
            out[param] = call(copy.deepcopy(convert), [copy.deepcopy(arg)])
    return bound if out is None else out


def stop_constant_exponents(expr, bound: Dict[str, Any], active, stop):
    """``expr`` (a partial) with each exponent made of operands that are constants here (``k`` of
    ``x ** k``: a literal's name, ``i`` of ``for i in range(n)``, ``len(ws)``; in the power rule
    ``k * x ** (k - (k != 0))``) read through ``stop`` (``rt.stop_gradient``).  Their adjoints are never
    used (a constant's adjoint is dropped at whatever order), but code that differentiates this code
    again (sct.hvp, a nested dlgradient, a transposed jvp: the constant comes back as a residual, where
    it looks differentiable) computed the exponent's adjoint, ``x ** e * log(x)``: NaN with a
    RuntimeWarning at x < 0 (an EvaluationError under np.errstate(invalid="raise")), -inf at x = 0,
    for a derivative that is finite."""
    inactive = {v.id for v in bound.values() if isinstance(v, gast.Name) and v.id not in active}
    if not inactive:
        return expr

    def wrap(node):
        rewrite_children(node, wrap)
        if isinstance(node, gast.BinOp) and isinstance(node.op, gast.Pow) and _constant_of(node.right, inactive):
            node.right = call(copy.deepcopy(stop), [node.right])
        elif isinstance(node, gast.Call) and isinstance(node.func, gast.Attribute) and \
                node.func.attr in ("power", "float_power") and isinstance(node.func.value, gast.Name) and \
                len(node.args) == 2 and not node.keywords and _constant_of(node.args[1], inactive):
            # np.power's rule (np.power(a, b - (b != 0)): a list base read as an array)
            node.args[1] = call(copy.deepcopy(stop), [node.args[1]])
        return node
    return wrap(expr)


def _constant_of(expr, inactive: Set[str]) -> bool:
    """Is ``expr`` (an exponent) arithmetic of names in ``inactive`` and numbers, with a name?  (The
    rules' ``sequence_operand(k)``, a list exponent read as an array, is ``k``.)"""
    names = 0
    todo = [expr]
    while todo:
        n = todo.pop()
        if isinstance(n, gast.Call) and isinstance(n.func, gast.Attribute) and \
                n.func.attr == "sequence_operand" and len(n.args) == 1 and not n.keywords:
            todo.append(n.args[0])
        elif isinstance(n, gast.Name):
            if n.id not in inactive:
                return False
            names += 1
        elif isinstance(n, gast.Compare) or isinstance(n, gast.Call) and _zero_power_fix(n):
            # a comparison carries no derivative, whatever it reads, nor does the power rule's
            # zero_power_fix(a, k) of the traced base a: k - 1 + ... stays constant
            continue
        elif isinstance(n, (gast.BinOp, gast.UnaryOp, gast.Constant, gast.operator,
                            gast.unaryop, gast.cmpop, gast.expr_context)):
            todo.extend(gast.iter_child_nodes(n))
        else:
            return False
    return names > 0


_CHEAP_CALLS = tuple(gast.dump(gast.parse(f"np.{name}(x)").body[0].value).split(", args=")[0]
                     for name in ("shape", "ndim", "size"))


def _always_made_calls(expr):
    """The calls ``expr`` makes whenever it is evaluated: none in the branches of a conditional
    expression or behind the first operand of ``and``/``or`` (hoisting those would run them always)."""
    stack = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, gast.Call):
            yield node
        if isinstance(node, gast.IfExp):
            stack.append(node.test)
        elif isinstance(node, gast.BoolOp):
            stack.append(node.values[0])
        elif not isinstance(node, gast.Lambda):
            stack.extend(gast.iter_child_nodes(node))


# runtime ops with a ``dtype`` parameter that is not a conversion of the input (or that convert
# in their own rule)
_OWN_DTYPE = {"astype", "astype_adjoint", "cast_kept"}


def cast_dtype(rule, bound):
    """The ``dtype=`` a call of one of the runtime's numpy ops passes (np.sum(x, dtype=int),
    np.array(x, int), x.cumsum(dtype=np.int32)): numpy converts the input to it, so an integer
    or bool dtype makes the op piecewise constant in it.  None where no dtype is passed."""
    if "dtype" not in rule.signature.parameters or rule.name in _OWN_DTYPE or \
            not getattr(rule.fn, "__module__", "").startswith(_RUNTIME_PACKAGE):
        return None
    dtype = bound.get("dtype")
    if dtype is None or isinstance(dtype, gast.Constant) and dtype.value is None:
        return None
    return dtype


_RUNTIME_PACKAGE = registry.__name__.rsplit(".", 1)[0] + "."


def _roots_made_by(gen, s, obj) -> bool:
    """Is each name the sweep differentiates with respect to bound only to an output of the optimizer update
    ``s`` (``t = sgdmupdate(...)``, outside every loop of the function), as ``r = t[0]`` after it?  The update
    makes new arrays, so no root's value reaches what ``s`` reads.  False where unsure (dlupdate, whose ``fun``
    may return its input; a root bound otherwise, a parameter; ``s`` in a loop)."""
    from .runtime.optim import dlupdate
    roots = gen.scope.roots
    if not roots or obj is dlupdate or not (
            isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], gast.Name)):
        return False
    made = s.targets[0].id
    fdef = gen.fdef
    params = {a.id for a in fdef.args.args + fdef.args.kwonlyargs + fdef.args.posonlyargs if isinstance(a, gast.Name)} | \
        {a.id for a in (fdef.args.vararg, fdef.args.kwarg) if isinstance(a, gast.Name)}
    if roots & params or made in params:
        return False
    order: Dict[int, int] = {}
    looped: Set[int] = set()
    stores: Dict[str, List] = {}
    todo = [(st, False) for st in reversed(fdef.body)]
    while todo:
        st, in_loop = todo.pop()
        order[id(st)] = len(order)
        if in_loop:
            looped.add(id(st))
        for n in walk_nodes(st):
            if isinstance(n, gast.Name) and not isinstance(n.ctx, gast.Load) and (n.id in roots or n.id == made):
                stores.setdefault(n.id, []).append(st)
            elif isinstance(n, (gast.Global, gast.Nonlocal)) and (roots | {made}) & set(n.names):
                return False
        if isinstance(st, (gast.FunctionDef, gast.AsyncFunctionDef, gast.ClassDef)):
            continue
        inner = in_loop or isinstance(st, (gast.For, gast.AsyncFor, gast.While))
        for field in ("body", "orelse", "finalbody"):
            block = getattr(st, field, None)
            if isinstance(block, list):
                todo.extend((c, inner) for c in reversed(block) if isinstance(c, gast.stmt))
        for part in getattr(st, "handlers", []) + getattr(st, "cases", []):
            todo.extend((c, inner) for c in reversed(part.body))
    if id(s) not in order or id(s) in looped or stores.get(made) != [s]:
        return False

    def of_update(st) -> bool:
        value = getattr(st, "value", None)
        if isinstance(value, gast.Subscript) and isinstance(value.slice, gast.Constant) and \
                type(value.slice.value) is int:
            value = value.value
        return isinstance(st, gast.Assign) and len(st.targets) == 1 and isinstance(st.targets[0], gast.Name) and \
            isinstance(value, gast.Name) and value.id == made and order[id(st)] > order[id(s)]
    return all(r in stores and all(of_update(st) for st in stores[r]) for r in roots)


def _refuse_plain_call(emit, s, info: CallInfo, value) -> None:
    """Refuse a derivative through a call run as it is; a refusal of dlupdate's is marked, for the
    call to be written out where it can be (sct/dlupdates.py)."""
    line = getattr(s, "lineno", None)
    # getattr(self, f"fc{i}") in `for i in range(3)`: the loop written out names each attribute (sct/unroll.py)
    # getattr(self, f"fc{i}") / sgdmupdate(p, g, vel) in `for i in range(3)`: the loop written out names each
    # attribute, and has no derivative through an update where none passes (_before_every_root)
    unrolls = info.obj is getattr or registry.is_run_as_is(info.obj)
    with marking_dlupdate(info.obj, line), refused_site(line if unrolls else None):
        emit.fail(s, _plain_call_refusal(info.obj, emit.describe(value.func), value.args), "call")


def _plain_call_refusal(obj, what: str, args=()) -> str:
    """Why a call run as it is (``CallKind.PLAIN``) cannot pass a derivative on (``args``: its arguments)."""
    starred = any(isinstance(a, gast.Starred) for a in args)
    if obj is getattr:
        return ("getattr(obj, name) with a name known only when it runs, on an object holding traced values: "
                "sct follows attributes it can name; write obj.attribute (or getattr with a string literal), "
                "or keep such values in a dict")
    if registry.is_run_as_is(obj):
        return (f"{what} has no derivative: inside dlfeval sct runs it as it is, and here a derivative would "
                f"pass through it (a dlgradient after it reads its outputs). Update the parameters after the "
                f"last dlgradient (or outside dlfeval, as MATLAB's training loops do), or write the update with "
                f"numpy operations")
    if obj is None:
        return (f"{what} is not defined when the function is compiled (Python raises NameError or "
                f"AttributeError where this line runs): check the spelling of {what}, or define it (import it) "
                f"before the first call")
    if isinstance(obj, functools.partial):
        inner = getattr(obj.func, "__name__", "the function")
        return (f"{what} is a functools.partial of {inner}() made outside the function (here through a module "
                f"global, a closure or sct.dlaccelerate): sct reads a partial's function where the partial is "
                f"made in the function or passed to it as an argument; call {inner}() with the bound arguments "
                f"here, or pass the partial in")
    if obj is next or obj is iter:
        # (was: "no derivative rule for next ... Add one with @sct.defrule", for it = iter([a, b]); a = next(it))
        return (f"{what}() of an iterator (iter(...) of a list, tuple, array or generator) holding traced values: "
                f"sct does not follow an iterator's position from call to call. Index the list instead (`items = "
                f"[a, b]; v = items[0]`), or loop over it directly (`for v in items:`)")
    if obj is zip and starred:
        # (was: "no derivative rule for zip ... Add one with @sct.defrule", for `factors = zip(*precond)` walked
        # later, or `for t in zip(*rows)`, autograd's kfac_pre.py: zip(*...) whose number of sequences is known
        # only when it runs, walked by one name)
        return (f"{what}(*...) walked by one name (a zip of as many sequences as the starred value holds, known only "
                f"when it runs) holding traced values: sct walks zip(*rows) taken apart by position (`for a, b in "
                f"zip(*rows)`) or made a list at once; write `list(zip(*rows))` where it is made")
    return (f"no derivative rule for {what}: it is not a Python function sct can read, and the runtime has no "
            f"rule for it. Add one with @sct.defrule (see help(sct.defrule)), use numpy functions that have "
            f"rules, or wrap its input with extractdata if it must be a constant")


def _attribute_pieces(self, value: gast.Attribute, g: str, ans: str, s) -> List[Tuple[str, Any]]:
    """Contributions.attribute_pieces: the adjoint of ``base.attr``."""
    base = value.value
    if not isinstance(base, gast.Name):
        # ``None.rm``: a helper's ``prev.rm if prev is not None else self.rm`` read in place with
        # ``prev=None`` (the arm that never runs); a constant has no adjoint (was: an internal
        # AttributeError, red team s49)
        return []
    op = registry.ATTRIBUTES.get(value.attr)
    if value.attr == "flat" and self.gen.is_array(base.id):
        self.fail(s, FLAT_ADVICE.format(base.id), "attribute")
    surely = getattr(self.act, "surely_array", None)
    if op is not None and self.gen.is_array(base.id) and (surely is None or surely(base.id)):
        return self.rule_pieces(registry.lookup(op), self.bind(registry.lookup(op), [base], []),
                                g, ans, s)
    if op is not None and (base.id not in self.act.kinds or self.gen.is_array(base.id)):
        # an array attribute or an object's field (`T`, `real` of a user's class: red team sci, dec 27)
        return [(base.id, call(self.rt("attribute_adjoint_any"), [load(g), base, const(value.attr)]))]
    return [(base.id, call(self.rt("attribute_adjoint"), [load(g), base, const(value.attr)]))]


def _may_repeat_impl(self, value: gast.BinOp) -> bool:
    """May ``a * b`` repeat a list or tuple (with a count that is never traced)?  (``Contributions.may_repeat``:
    ``self`` the Contributions pass, whose activity, generation and ``is_list`` it reads.)"""
    operands = (value.left, value.right)
    if any(isinstance(o, gast.Constant) and isinstance(o.value, (float, complex)) for o in operands):
        return False            # (a float or complex factor is never a count)
    if all(isinstance(o, gast.Name) and o.id in self.act.active for o in operands) and \
            (operands[0].id == operands[1].id or
             (any(self.gen.may_be_array(o.id) for o in operands) and
              not any(o.id in self.act.lists or o.id in getattr(self.act, "sequences", ()) for o in operands))):
        # two traced factors, the same name or one known to hold an array where it is bound
        # (``v * v`` with ``v`` also bound to a list elsewhere): a product, never a repetition
        # (was: rt.repeat_adjoint(g, v, v), whose derivative took the count ``v`` for a
        # constant: a silently wrong second derivative; the runtime rule now covers it too)
        return False
    if any(isinstance(o, gast.Name) and o.id in self.act.active and
           not (o.id in self.act.lists or self.act.kinds.get(o.id, ("",))[0] == "seq" or
                o.id in getattr(self.act, "sequences", ())) and
           self.gen.may_be_array(o.id)
           for o in operands) and not any(isinstance(o, gast.Constant) and type(o.value) is int
                                          for o in operands):
        # a traced factor known to hold an array: ordinary multiplication (one of unknown kind
        # times a list, ``xs * n`` with ``n = count(x)`` from a helper, is decided at run time by
        # rt.repeat_adjoint: was the product's rule given a list, a TypeError in the sweep)
        return False
    if self.is_list(value) or any(isinstance(o, gast.Name) and
                                  (self.act.kinds.get(o.id, ("",))[0] == "seq" or
                                   o.id in getattr(self.act, "sequences", ())) for o in operands):
        return True
    if any(isinstance(o, gast.Name) and o.id in self.act.active and not self.gen.may_be_array(o.id)
           for o in operands) and \
            not all(isinstance(o, gast.Name) and o.id in self.act.active for o in operands):
        # a traced factor of unknown kind (a helper's result: ``t = pair(a, b); t * k`` repeats
        # the tuple) times a factor not known to be a traced array: rt.repeat_adjoint decides
        # when it runs (was the product's rule: the tuple adjoint times k, a wrong gradient)
        return True
    return any(isinstance(o, gast.Constant) and type(o.value) is int for o in operands) and \
        not all(isinstance(o, gast.Constant) or isinstance(o, gast.Name) and self.gen.is_array(o.id)
                for o in operands)


def _raises_first(contrib, s, value) -> bool:
    """Is the callee of ``value`` (statement ``s`` of ``contrib``'s function) a name or attribute not
    defined when the function is compiled, called in a branch of an ``if`` (which Python may never
    take: ``np.trapezoid(...) if hasattr(np, "trapezoid") else np.trapz(...)``)?  The forward code
    calls it as written, so it raises (NameError, AttributeError) where it runs, before any derivative;
    a definition made later compiles the function anew (its guard).  One called unconditionally is
    refused when compiling (a misspelling)."""
    from .cache import _MISSING
    if contrib.act.resolver.resolve(value.func) is not _MISSING:
        return False
    branches = contrib.__dict__.get("_in_branches")
    if branches is None:
        from .ir import walk_no_defs
        branches = set()
        for node in walk_no_defs(contrib.act.fdef):
            if isinstance(node, gast.If):
                for stmt in node.body + node.orelse:
                    branches.update(id(n) for n in gast.walk(stmt))
        contrib._in_branches = branches
    return id(s) in branches


def _describe(func) -> str:
    from .emit import expr_source
    return expr_source(func)
