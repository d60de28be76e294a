"""Adjoint code from rule templates: a rule's expression with the call's names put in,
folded (``simplify``), and the small pieces of generated code the passes share.
"""
from __future__ import annotations

import builtins
import copy
import operator
import types
from typing import Any, Dict, List, Optional

import gast
import numpy as np

from .ir import attr, const, rewrite_children, load, store, substitute_template, walk_nodes
from .rt_namespace import RT
from .runtime.imported import original


BINOP_OPS = {gast.Add: operator.add, gast.Sub: operator.sub, gast.Mult: operator.mul,
             gast.Div: operator.truediv, gast.Pow: operator.pow, gast.MatMult: operator.matmul,
             gast.Mod: operator.mod, gast.BitOr: operator.or_}



UNARY_OPS = {gast.USub: operator.neg, gast.UAdd: operator.pos}



ZERO = const(0.0)



SCALAR_SAFE_OPS = {operator.add, operator.sub, operator.mul, operator.truediv, operator.pow}



def _strip_unbroadcast(expr, rt_name: str):
    if isinstance(expr, gast.Call) and isinstance(expr.func, gast.Attribute) and \
            expr.func.attr == "unbroadcast" and isinstance(expr.func.value, gast.Name) and \
            expr.func.value.id == rt_name:
        return expr.args[0]
    return expr



def _number(node):
    return isinstance(node, gast.Constant) and isinstance(node.value, (int, float)) and \
        not isinstance(node.value, bool)



def _zero(node) -> bool:
    """The literal int 0 (0 times a bool is the int 0; 0.0 would make it a float)."""
    return isinstance(node, gast.Constant) and type(node.value) is int and node.value == 0


def _boolean(node) -> bool:
    """A comparison, ``~`` of one, or ``|`` / ``&`` of such: True or False (a bool array), finite, so
    0 times it is 0."""
    if isinstance(node, gast.UnaryOp) and isinstance(node.op, gast.Invert):
        return _boolean(node.operand)
    if isinstance(node, gast.BinOp) and isinstance(node.op, (gast.BitOr, gast.BitAnd)):
        return _boolean(node.left) and _boolean(node.right)
    return isinstance(node, gast.Compare)


def python_base_powers(rule, expr, bound, act, base_power):
    """``expr`` (an instantiated and simplified rule; changed only for ``**`` and ``pow``) with each power
    ``a ** e`` of the base ``a`` whose exponent is not a non-negative number written as
    ``base_power(a, e)`` (``rt.base_power``) where ``a`` may be a Python number (not surely numpy's,
    ``act.numpy_valued``), whose ``**`` raises where numpy's gives inf (the adjoint ``0.5 * v ** -0.5``
    of ``float(x) ** 0.5`` at 0 raised ZeroDivisionError, a valid program refused; ``v ** -2`` of
    ``float(x) ** -1`` at 1e-200, OverflowError)."""
    base = bound.get("a")
    if (rule.op is not operator.pow and rule.op is not builtins.pow) or not isinstance(base, gast.Name) or \
            act.numpy_valued(base):
        return expr

    def visit(node):
        rewrite_children(node, visit)
        if isinstance(node, gast.BinOp) and isinstance(node.op, gast.Pow) and \
                isinstance(node.left, gast.Name) and node.left.id == base.id and \
                not (_number(node.right) and node.right.value >= 0):
            return gast.Call(func=copy.deepcopy(base_power), args=[node.left, node.right], keywords=[])
        return node
    return visit(expr)


def simplify(expr):
    """Fold constants and drop ``x ** 1``, ``1 * x``, ``x * 1``, ``x / 1`` in instantiated rules."""
    # Only a BinOp or Compare with a number as a direct operand can fold, and a fold is what
    # makes a parent's operand a number: without one, the transformer changes nothing.
    for n in walk_nodes(expr):
        if isinstance(n, gast.BinOp) and (_number(n.left) or _number(n.right)) or \
                isinstance(n, gast.Compare) and (_number(n.left) or any(_number(c) for c in n.comparators)
                                                 or _literal_identity(n)):
            break
    else:
        return expr
    return _fold(expr)


def _fold(node):
    """``_FOLD.visit(node)``: the same visits (children first, replaced in place), read through
    the child fields (the context and operator leaves hold no BinOp or Compare), without the
    transformer's dispatch."""
    rewrite_children(node, _fold)
    cls = node.__class__
    if cls is gast.BinOp:
        return _FOLD.binop(node)
    if cls is gast.Compare:
        return _FOLD.compare(node)
    if cls is gast.Call and isinstance(node.func, gast.Attribute) and node.func.attr == "sequence_operand" \
            and isinstance(node.func.value, gast.Name) and len(node.args) == 1 and not node.keywords \
            and _number(node.args[0]):
        return node.args[0]     # rt.sequence_operand(3.0) is 3.0: np.power(x, 3.0)'s rule folds on
    if cls is gast.Call and _zero_power_fix(node) and _number(node.args[1]) and node.args[1].value != 0:
        return const(0)         # the power rules' exponent fix of a literal exponent other than 0: none
    return node


def _zero_power_fix(node) -> bool:
    """``rt.zero_power_fix(a, b)`` (the power rules' exponent fix: runtime/numpy_ops.py)."""
    return isinstance(node.func, gast.Attribute) and node.func.attr == "zero_power_fix" and \
        isinstance(node.func.value, gast.Name) and len(node.args) == 2 and not node.keywords



def _literal_identity(node) -> bool:
    """``c is None`` / ``c is not None`` of two literals: a rule's ``rcond is not None`` given the
    call's literal (``pinv(M, rcond=1e-10)``), which Python's compiler warns of at the user's line
    (``SyntaxWarning: "is not" with a literal``) and which is decided here."""
    return len(node.ops) == 1 and isinstance(node.ops[0], (gast.Is, gast.IsNot)) and \
        isinstance(node.left, gast.Constant) and isinstance(node.comparators[0], gast.Constant) and \
        (node.left.value is None or node.comparators[0].value is None)


class _Fold(gast.NodeTransformer):
    """The folds of ``simplify`` (one instance: it keeps no state)."""
    def visit_Compare(self, node):
        self.generic_visit(node)
        return self.compare(node)

    def compare(self, node):
        if len(node.ops) == 1 and _number(node.left) and _number(node.comparators[0]):
            fn = {gast.Eq: operator.eq, gast.NotEq: operator.ne}.get(type(node.ops[0]))
            if fn is not None:          # (2 != 0) in the power rule: an int, so it folds on
                return const(int(fn(node.left.value, node.comparators[0].value)))
        if _literal_identity(node):     # (None is the one object of its type: decided by the values)
            same = node.left.value is None and node.comparators[0].value is None
            return const(same if isinstance(node.ops[0], gast.Is) else not same)
        return node

    def visit_BinOp(self, node):
        self.generic_visit(node)
        return self.binop(node)

    def binop(self, node):
        left, right = node.left, node.right
        if _number(left) and _number(right):
            fn = BINOP_OPS.get(type(node.op))
            if fn is not None and not (isinstance(node.op, (gast.Div, gast.Mod)) and right.value == 0):
                return const(fn(left.value, right.value))
        if isinstance(node.op, gast.Mult) and (_zero(left) and _boolean(right) or _zero(right) and _boolean(left)):
            return const(0)     # 0 * (a comparison): the power rule's (b == 0) * (...) of a literal b
        if isinstance(node.op, gast.Pow) and _number(right) and right.value == 1:
            return left
        if isinstance(node.op, gast.Mult) and _number(right) and right.value == 1:
            return left
        if isinstance(node.op, gast.Mult) and _number(left) and left.value == 1:
            return right
        if isinstance(node.op, gast.Div) and _number(right) and right.value == 1:
            return left
        return node



_FOLD = _Fold()



def rule_namespace(fn):
    """The names a rule's template reads, as the rule reads them: its closure's values (a rule
    defined in a factory, ``def make(k): ... return g * np.cos(x) * k``) before its module's
    globals (read there, ``k`` was the module's global of that name, or a NameError)."""
    code = getattr(fn, "__code__", None)
    cells = getattr(fn, "__closure__", None)
    if code is None or not cells:
        return fn.__globals__
    from collections import ChainMap
    values = {}
    for name, cell in zip(code.co_freevars, cells):
        try:
            values[name] = cell.cell_contents
        except ValueError:          # an empty cell: unbound, as in the rule
            pass
    return ChainMap(values, fn.__globals__)


def instantiate_template(template, mapping: Dict[str, Any], globals_, numpy_name: str,
                         rt_names: Dict[int, str], rt_name: str):
    """A rule's expression with the call's names put in, and the rule module's own names
    (numpy, runtime helpers) spelled as generated code reaches them."""
    mapping = dict(mapping)
    for name in _template_names(template):
        if name not in mapping and name in globals_:
            obj = globals_[name]
            if original(obj) is np:        # (the runtime's copy of numpy, runtime/imported.py: the generated code's)
                mapping[name] = numpy_name
            elif id(obj) in rt_names:
                mapping[name] = attr(load(rt_name), rt_names[id(obj)])
            else:       # a name of a user's rule (sct.defrule in the user's module): reached through rt
                mapping[name] = attr(load(rt_name), _reach(obj, name, rt_names))
    expr = substitute_template(template, mapping)
    if _has_defaulted(template):
        expr = _DROP_DEFAULTED.visit(expr)
    return expr


# Runtime helpers that return their first argument when their second holds numpy's default (a
# reduction's ``where=True``, ``initial`` not given): dropped from an instantiated rule, so a call
# without those keywords gets the adjoint it always had (runtime/numpy_ops.py, reductions).
_DEFAULTED = {"where_masked": True, "where_filled": True, "initial_scaled": None, "initial_scaled_back": None,
              "given_mean": None, "mean_unused": None, "given_mean_conj": None,
              "given_mean_cotangent": None, "correction_or": None, "masked_count": True,
              "cast_kept": None, "where_skips_noted": True, "input_as": None, "ufunc_operand": None}


class _DropDefaulted(gast.NodeTransformer):
    def visit_Call(self, node):
        self.generic_visit(node)
        func = node.func
        if isinstance(func, gast.Attribute) and func.attr == "mean" and any(
                k.arg == "where" and isinstance(k.value, gast.Constant) and k.value.value is True
                for k in node.keywords):       # np.var's lane mean: where=True is numpy's default
            node.keywords = [k for k in node.keywords if not (k.arg == "where" and isinstance(k.value, gast.Constant)
                                                              and k.value.value is True)]
            return node
        if isinstance(func, gast.Attribute) and func.attr in _DEFAULTED and len(node.args) >= 2 and \
                not node.keywords and isinstance(node.args[1], gast.Constant) and \
                node.args[1].value is _DEFAULTED[func.attr]:
            return node.args[0]
        return node


_DROP_DEFAULTED = _DropDefaulted()
_HAS_DEFAULTED: Dict[int, tuple] = {}


def _has_defaulted(template) -> bool:
    """Does ``template`` call one of the ``_DEFAULTED`` helpers (found once per template)?"""
    hit = _HAS_DEFAULTED.get(id(template))
    if hit is not None and hit[0] is template:
        return hit[1]
    if len(_HAS_DEFAULTED) > 4096:
        _HAS_DEFAULTED.clear()
    found = any(name in _DEFAULTED for name in _template_names(template))
    _HAS_DEFAULTED[id(template)] = (template, found)
    return found


_TEMPLATE_NAMES: Dict[int, tuple] = {}


def _template_names(template) -> tuple:
    """The names a rule's template uses, in the walk's order (found once per template: a
    template is instantiated for every call of its op)."""
    hit = _TEMPLATE_NAMES.get(id(template))
    if hit is not None and hit[0] is template:
        return hit[1]
    if len(_TEMPLATE_NAMES) > 4096:
        _TEMPLATE_NAMES.clear()
    names = tuple(n.id for n in walk_nodes(template) if isinstance(n, gast.Name))
    _TEMPLATE_NAMES[id(template)] = (template, names)
    return names



_CONJ_ATTRIBUTES = frozenset({"conj", "conjugate"})
_TEMPLATE_CONJ: Dict[int, tuple] = {}


def may_hold_conj(template, mapping: Dict[str, Any]) -> bool:
    """May the instantiation of ``template`` with ``mapping`` hold a ``.conj``/``.conjugate``
    attribute (what ``ComplexProjection.elide_conj`` looks for)?  The template's answer is found
    once per template; the values put in are looked at each time (a name put in never holds one;
    a runtime or numpy name reached through ``rt`` is an attribute of ``rt``, never elided)."""
    hit = _TEMPLATE_CONJ.get(id(template))
    if hit is None or hit[0] is not template:
        if len(_TEMPLATE_CONJ) > 4096:
            _TEMPLATE_CONJ.clear()
        hit = _TEMPLATE_CONJ[id(template)] = (template, any(
            isinstance(n, gast.Attribute) and n.attr in _CONJ_ATTRIBUTES for n in walk_nodes(template)))
    if hit[1]:
        return True
    for value in mapping.values():
        if isinstance(value, str):
            continue
        if not isinstance(value, gast.AST):
            return True             # (not expected: looked at as instantiated)
        if any(isinstance(n, gast.Attribute) and n.attr in _CONJ_ATTRIBUTES for n in walk_nodes(value)):
            return True
    return False


def _reach(obj, name: str, rt_names: Dict[int, str]) -> str:
    """Put ``obj`` (a global of a user's rule) in the runtime namespace generated code sees as
    ``rt``, under a name of its own; the object is kept there, so its id stays its own."""
    public = f"user_{name}"
    k = 1
    while hasattr(RT, public) and getattr(RT, public) is not obj:
        k += 1
        public = f"user_{name}_{k}"
    setattr(RT, public, obj)
    rt_names[id(obj)] = public
    return public



def _is_comment(st) -> bool:
    from .emit import COMMENT
    return isinstance(st, gast.Expr) and isinstance(st.value, gast.Constant) and \
        isinstance(st.value.value, str) and st.value.value.startswith(COMMENT)



def assign_pair(a: str, b: str, value) -> gast.Assign:
    return gast.Assign(targets=[gast.Tuple(elts=[store(a), store(b)], ctx=gast.Store())],
                       value=value, type_comment=None)



def _function(name: str, params: List[str], body: List, kwonly: List[str] = (),
              vararg: Optional[str] = None, kwarg: Optional[str] = None) -> gast.FunctionDef:
    def param(p):
        return gast.Name(id=p, ctx=gast.Param(), annotation=None, type_comment=None)
    args = gast.arguments(args=[param(p) for p in params], posonlyargs=[],
                          vararg=param(vararg) if vararg else None,
                          kwonlyargs=[param(p) for p in kwonly], kw_defaults=[None] * len(kwonly),
                          kwarg=param(kwarg) if kwarg else None, defaults=[])
    return gast.FunctionDef(name=name, args=args, body=body, decorator_list=[], returns=None,
                            type_comment=None, type_params=[])


def guard_rule_globals(guards: Dict[str, Any], template, mapping, fn) -> None:
    """The values a user's rule ``fn`` reads from its module (``K`` in ``g * np.cos(x) * K``) are put
    into the generated code as they are now: guarded (into ``guards``, the resolver's) like the
    function's own globals, so that rebinding one compiles the caller again (it kept the old value:
    a stale gradient or tangent)."""
    from .cache import Guard
    module_globals = getattr(fn, "__globals__", None)
    if type(module_globals) is not dict or \
            str(module_globals.get("__name__", "")).split(".")[0] in ("runtime", "sct", "numpy"):
        return              # sct's own rules read sct's fixed helpers
    free = set(getattr(fn.__code__, "co_freevars", ()))
    for name in _template_names(template):
        if name in mapping or name in free or name not in module_globals:
            continue
        value = module_globals[name]
        if isinstance(value, types.ModuleType):
            continue
        key = f"__sct_rule_global_{id(module_globals)}_{name}"
        if key not in guards:
            guards[key] = Guard(module_globals, name, value)
