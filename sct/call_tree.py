"""The call tree, resolved when the caller is compiled (issue 7 item 3, issue 8 item 2).

Each call that generated code makes to a helper, method, constructor or callable object has a
call site (``rt.vjp_at(site, helper, mask, *args)``: sct.call_sites).  When the caller is
compiled, before its source is emitted, every site whose callee is known then (a module-level
function, one in a closure cell or global of the caller, a method of an object whose class its
kind names, a class built there) and whose arguments' kinds are known or predicted gets the
callee's generated code now, recursively over the tree, and the generated code calls it BY NAME:
the pair is bound in the generated module's globals (``layer_fwd_0b84173eeb``) and the call reads
``(y, y_residuals) = layer_fwd_0b84173eeb(W, x)``.

Guards.  What the site checked on every call is checked once per call of the caller where that is
sound, else at the call:
- the callee object: the caller's own guards (the generated code reads the global, closure cell
  or attribute as it was when the caller's entry check ran);
- the callee's code's guards (``Compiled.check``): folded into the caller's check
  (:func:`fold_checks`) unless the caller may run user code sct did not compile (``rt.user_call``,
  ``rt.effect``, a call left to run time...: ``Compiled.opaque``), which could rebind a global the
  callee reads; then checked at the call;
- the arguments' kinds: those that follow from the caller's kinds (a parameter never rebound
  holding an array, a number, a constant or a tuple of those; a literal) are covered by the
  caller's check; the others (values the caller computes, objects, which code may change in
  place) are checked at the call by a generated guard;
- a method's, ``__init__``'s identity on its class (a class attribute may be replaced): at the call;
- the rules version: the caller's (its cache key and entry check hold it).
A guarded call reads ``(f, b) = (layer_fwd_.., layer_bwd_..) if layer_guard(W, y) else
rt.vjp_at(layer_site, layer, mask, W, y)``: a failed guard takes the site's run-time path.

A callee chosen at run time (a local, a value from data), arguments whose kinds are not known,
recursive calls (a callee being compiled on this thread) and generated sweeps differentiated again
(resolved after the caller is loaded, kept in their sites) stay on the run-time path.
"""
from __future__ import annotations

import copy
import functools
import inspect
import threading
import types
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

import gast
import numpy as np

from .runtime import registry
from .runtime.origins import module_name, module_top
from .runtime.effects import class_read_runs_code
from .runtime.support import CallSite, Closure, SiteEntry, as_sequence as _as_sequence, \
    into_temporary as _into_temporary, positional

from .kinds import instance_field, kind_of, make_matcher
from .ir import child_nodes, const, constant_int, load, root_name, tree_changed, walk_no_defs, walk_nodes, walk_nodes_list
from .plans import NO_ADJOINT
from .recomputed import USER_CODE_RT
from .errors import CompileError
from .parse import function_ast as _function_ast
from .helper_sites import joint_sites_through, refuse_linked
from .fresh_returns import fresh_components, stores_arguments
from .global_writes import _library
from . import hooks
from . import transform_calls as _tc

_MISSING = object()
MAX_DEPTH = 32            # deeper call chains resolve the rest on first call


class _State(threading.local):
    compiling: Optional[Dict[int, int]] = None    # code ids whose call trees are being resolved
    depth = 0


_STATE = _State()
STATS = {"resolved": 0, "dynamic": 0}      # counted over the process (tests read them)


@dataclass(frozen=True)
class CallRecord:
    """One call of generated code: its callee's name and user line; ``compiled``: the code made
    for it when the caller was compiled (None: ``reason`` says why it is made on first call)."""
    label: str
    line: Optional[int]
    op: str
    site: Any
    compiled: Any = None
    reason: str = ""
    resolved: bool = False       # True: the site holds its entry (compiled or a record pair)
    names: Tuple[str, ...] = ()  # the names the generated code calls it by (empty: through its site)
    guarded: bool = False        # True: a guard at the call checks what the caller's check cannot


class _PredictedKinds:
    """The matcher of an entry made at compile time: the arguments' kinds, compared with
    ``kind_of`` (exactly what the run-time path keys its code on); on the first match the site's
    entry gets the matcher of those arguments' parts (sct.kinds.make_matcher), as an entry made
    at run time has."""
    __slots__ = ("kinds", "traced", "site", "entry")

    def __init__(self, kinds: Tuple, traced: Tuple[bool, ...], site: CallSite):
        self.kinds = kinds
        self.traced = traced
        self.site = site
        self.entry = None

    def __call__(self, args) -> bool:
        kinds = self.kinds
        if len(args) != len(kinds):
            return False
        for a, t, k in zip(args, self.traced, kinds):
            if kind_of(a, t) != k:
                return False
        entry = self.entry
        if entry is not None:
            self.entry = None
            fast = make_matcher(tuple(args), self.traced)
            if fast is not None:
                new = entry._replace(match=fast)
                self.site.entries = tuple(new if e is entry else e for e in self.site.entries)
        return True


def _retrace(kind, traced: bool, _memo=None):
    """The kind ``kind_of(value, traced)`` gives, in generated code, a value whose kind (as an
    argument of the caller, or a part of one) is ``kind``; None where it cannot be told.
    Arrays reach generated code as numpy arrays (dlfeval unwraps them).  A kind shares its parts
    where the value did (kind_of's memo: an object met again): each shared part is read once
    (``_memo``: id -> (the part, its result)), or a deeply shared kind took exponential time."""
    if not isinstance(kind, tuple) or not kind:
        return None
    if _memo is None:
        _memo = {}
    held = _memo.get(id(kind))
    if held is not None and held[0] is kind:
        return held[1]
    result = _retrace_parts(kind, traced, _memo)
    _memo[id(kind)] = (kind, result)
    return result


def _retrace_parts(kind, traced: bool, _memo):
    tag = kind[0]
    if tag in ("dl", "nd"):
        if len(kind) != 3:            # a formatted dlarray: its format is followed elsewhere
            return None
        dtype = np.dtype(kind[1])
        return ("dl" if traced and dtype.kind in "fc" else "nd", kind[1], kind[2])
    if tag == "num":
        if traced and kind[2] in (float, complex):
            return ("dl", kind[1], 0)
        return kind
    if tag == "const":
        return kind
    if tag == "seq":
        items = tuple(_retrace(k, traced, _memo) for k in kind[2])
        return None if any(k is None for k in items) else (tag, kind[1], items)
    if tag in ("map", "obj"):
        items = tuple((key, _retrace(k, traced, _memo)) for key, k in kind[2])
        return None if any(k is None for _, k in items) else (tag, kind[1], items)
    return None


def _local_names(fdef) -> set:
    args = fdef.args
    names = {a.id for a in args.args + args.kwonlyargs + args.posonlyargs if isinstance(a, gast.Name)}
    for extra in (args.vararg, args.kwarg):
        if extra is not None:
            names.add(extra.id)
    nodes = walk_nodes_list(fdef)      # (gast.walk's nodes but the context and operator leaves)
    names |= {n.id for n in nodes if isinstance(n, gast.Name) and isinstance(n.ctx, (gast.Store, gast.Del))}
    names |= {n.name for n in nodes if isinstance(n, gast.FunctionDef) and n is not fdef}
    return names


def _static_value(node, namespace: Dict[str, Any], local: set):
    """What ``node`` (a name or attributes of one) refers to in the generated globals, or _MISSING
    where a local or anything else decides it at run time."""
    if isinstance(node, gast.Name):
        if node.id in local:
            return _MISSING
        return namespace.get(node.id, _MISSING)
    if isinstance(node, gast.Attribute):
        base = _static_value(node.value, namespace, local)
        if isinstance(base, (types.ModuleType, type, types.SimpleNamespace)) and \
                not class_read_runs_code(base, node.attr):
            return getattr(base, node.attr, _MISSING)
    if isinstance(node, gast.Call) and len(node.args) == 1 and not node.keywords and \
            _static_value(node.func, namespace, local) is positional:
        fn = _static_value(node.args[0], namespace, local)     # rt.positional(f) of a known f
        return positional(fn) if type(fn) is types.FunctionType else _MISSING
    return _MISSING


def _mask(node) -> Optional[Tuple[Any, ...]]:
    """The call's activity mask: True/False per argument, or NO_ADJOINT (sct/plans.py)."""
    if isinstance(node, gast.Tuple) and all(isinstance(e, gast.Constant) and
                                            (isinstance(e.value, bool) or e.value == NO_ADJOINT)
                                            for e in node.elts):
        return tuple(e.value for e in node.elts)
    return None


def _arg_kind(node, traced: bool, kinds: Dict[str, Any], local: set, own: Dict[str, Any]):
    if isinstance(node, gast.Constant):
        return kind_of(node.value, traced)
    if isinstance(node, gast.Name) and node.id in local:
        kind = kinds.get(node.id)
        return _retrace(own.get(node.id) if kind is None else kind, traced)
    return None


_INT_KIND = kind_of(0)
_INT_RESULTS = ("effect_position",)       # runtime functions of generated code returning an int
_ELEMENTWISE = {gast.Add, gast.Sub, gast.Mult, gast.Div, gast.Pow}
_REDUCTIONS = (np.sum, np.mean, np.prod, np.max, np.min)
_UNARY_UFUNCS = frozenset(("sin", "cos", "tan", "tanh", "sinh", "cosh", "exp", "log", "sqrt", "square",
                           "negative", "arctan", "log1p", "expm1", "reciprocal", "absolute"))
_BINARY_UFUNCS = frozenset(("add", "subtract", "multiply", "divide", "maximum", "minimum", "fmax", "fmin"))


def _array_leaf(kind):
    """(dtype string, ndim) of a float or complex array kind, else None."""
    if isinstance(kind, tuple) and len(kind) == 3 and kind[0] in ("dl", "nd") and \
            np.dtype(kind[1]).kind in "fc":
        return kind[1], kind[2]
    return None


def _weak_scalar(node, kind) -> bool:
    """A Python int or float (numpy keeps an array's float dtype against it)."""
    if isinstance(node, gast.Constant):
        return type(node.value) in (int, float)
    return isinstance(kind, tuple) and len(kind) == 3 and kind[0] == "num" and kind[2] in (int, float)


def _in_place_as_op(call):
    """``rt.into_temporary(op, a, b, side)`` as ``a <op> b``, ``rt.broadcast_mul(a, b)`` as ``a * b``,
    ``rt.negative_into(a)`` as ``-1.0 * a`` (the same kind), for the kinds below; None for other calls."""
    from .optimize import _INTO_BINOPS
    if call.func.attr == "into_temporary" and len(call.args) == 4 and \
            isinstance(call.args[0], gast.Constant) and call.args[0].value in _INTO_BINOPS:
        return gast.BinOp(left=call.args[1], op=_INTO_BINOPS[call.args[0].value](), right=call.args[2])
    if call.func.attr == "broadcast_mul" and len(call.args) == 2:
        return gast.BinOp(left=call.args[0], op=gast.Mult(), right=call.args[1])
    if call.func.attr == "negative_into" and len(call.args) == 1:
        return gast.BinOp(left=gast.Constant(value=-1.0, kind=None), op=gast.Mult(), right=call.args[0])
    return None


def _value_kind(value, known, namespace: Dict[str, Any]):
    """The kind of what an assignment of generated code computes, where plain numpy says it
    (elementwise operators and unary ufuncs keep a float array's dtype, a reduction without
    options gives a 0-d value, ``@`` its ranks); None otherwise.  A guess that the sites check:
    a wrong one only leaves the call to its first run."""
    if isinstance(value, gast.Name):
        return known(value.id)
    if isinstance(value, gast.Subscript) and isinstance(value.value, gast.Name):
        return _item_kind(known(value.value.id), value.slice)
    if isinstance(value, gast.Call) and isinstance(value.func, gast.Attribute) and \
            value.func.attr == "as_sequence" and len(value.args) == 1 and not value.keywords and \
            isinstance(value.args[0], gast.Name) and isinstance(value.func.value, gast.Name) and \
            getattr(namespace.get(value.func.value.id), "as_sequence", None) is _as_sequence:
        kind = known(value.args[0].id)          # a list or tuple walked by a loop: itself
        return kind if _sequence_items(kind) is not None else None
    if isinstance(value, gast.Call) and isinstance(value.func, gast.Attribute) and \
            isinstance(value.func.value, gast.Name) and \
            getattr(namespace.get(value.func.value.id), "into_temporary", None) is _into_temporary:
        value = _in_place_as_op(value)          # sct/optimize.py's in-place forms: the op they compute
        if value is None:
            return None
    if isinstance(value, gast.BinOp):
        if type(value.op) in _ELEMENTWISE:
            return _elementwise_kind(value.left, value.right, known)
        leaves = [_array_leaf(known(o.id)) if isinstance(o, gast.Name) else None for o in (value.left, value.right)]
        if isinstance(value.op, gast.MatMult) and leaves[0] and leaves[1] and leaves[0][0] == leaves[1][0]:
            a, b = leaves[0][1], leaves[1][1]
            if a == 0 or b == 0:
                return None
            # numpy's matmul: a 1-D operand loses its dimension (stacks of matrices keep theirs)
            rank = 0 if a == b == 1 else b - 1 if a == 1 else a - 1 if b == 1 else max(a, b)
            return ("nd", leaves[0][0], rank)
        return None
    if isinstance(value, gast.Call) and value.args and isinstance(value.args[0], gast.Name):
        func = value.func
        op = namespace.get(func.id) if isinstance(func, gast.Name) else None
        if isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name):
            base = namespace.get(func.value.id)
            op = getattr(base, func.attr, None) if base is np else None
        if op is None:
            return None
        if len(value.args) == 2 and not value.keywords and isinstance(op, np.ufunc) and \
                op.__name__ in _BINARY_UFUNCS:          # np.maximum(x, 0.0): as x + 0.0
            return _elementwise_kind(value.args[0], value.args[1], known)
        leaf = _array_leaf(known(value.args[0].id))
        if leaf is None or len(value.args) != 1:
            return None
        if isinstance(op, np.ufunc) and not value.keywords and op.__name__ in _UNARY_UFUNCS:
            return ("nd",) + leaf
        if any(op is r for r in _REDUCTIONS):
            options = {k.arg: k.value for k in value.keywords}
            if not options:
                return ("nd", leaf[0], 0)
            axis, keep = options.get("axis"), options.get("keepdims")
            if set(options) - {"axis", "keepdims"} or not isinstance(axis, gast.Constant) or \
                    type(axis.value) is not int or not -leaf[1] <= axis.value < leaf[1] or \
                    not (keep is None or isinstance(keep, gast.Constant) and type(keep.value) is bool):
                return None
            return ("nd", leaf[0], leaf[1] if keep is not None and keep.value else leaf[1] - 1)
    return None


def _sequence_items(kind):
    """The kinds of the items of a list or tuple kind, else None."""
    if isinstance(kind, tuple) and len(kind) == 3 and kind[0] == "seq" and kind[1] in (list, tuple):
        return kind[2]
    return None


def _item_kind(kind, index):
    """The kind of ``value[index]`` for a value of ``kind``: an item of a list or tuple at a constant
    position, a slice of one with constant bounds, the one kind all its items have at a position known
    at run time only (a loop's), the value of a dict at a constant key; None otherwise."""
    items = _sequence_items(kind)
    if items is not None:
        i = constant_int(index)
        if i is not None:
            return items[i] if -len(items) <= i < len(items) else None
        if isinstance(index, gast.Slice):
            bounds = [None if b is None or isinstance(b, gast.Constant) and b.value is None else constant_int(b)
                      for b in (index.lower, index.upper, index.step)]
            if any(b is None and part is not None and not (isinstance(part, gast.Constant) and part.value is None)
                   for b, part in zip(bounds, (index.lower, index.upper, index.step))) or bounds[2] == 0:
                return None
            return (kind[0], kind[1], items[slice(*bounds)])
        if isinstance(index, gast.Name) and items and all(k == items[0] for k in items):
            return items[0]
        return None
    if isinstance(kind, tuple) and len(kind) == 3 and kind[0] == "map" and kind[1] is dict and \
            isinstance(index, gast.Constant) and isinstance(index.value, (str, int)) and \
            type(index.value) is not bool:
        return next((k for key, k in kind[2] if type(key) is type(index.value) and key == index.value), None)
    return None


def _elementwise_kind(left, right, known):
    """The kind of an elementwise operation of ``left`` and ``right`` (names or constants): two float
    arrays of one dtype give that dtype at the larger rank; an array and a Python int or float the
    array's kind; None otherwise."""
    operands = [(o, known(o.id) if isinstance(o, gast.Name) else None) for o in (left, right)]
    leaves = [_array_leaf(k) for _, k in operands]
    if leaves[0] and leaves[1]:
        if leaves[0][0] != leaves[1][0]:
            return None
        return ("nd", leaves[0][0], max(leaves[0][1], leaves[1][1]))
    for leaf, (other, kind) in ((leaves[0], operands[1]), (leaves[1], operands[0])):
        if leaf and _weak_scalar(other, kind):
            return ("nd",) + leaf
    return None


def _generated_kinds(fdef, kinds: Dict[str, Any], namespace: Dict[str, Any],
                     results: Optional[Dict[Any, Any]] = None, assignments: Optional[List] = None) -> Dict[str, Any]:
    """Kinds of names the generated function assigns, from their first assignment in order:
    ``effects_start = rt.effect_position()`` (an int), and values plain numpy computes from
    values of known kinds (see :func:`_value_kind`); ``results``: the kinds of the values of
    calls resolved so far (by the name of the pair's forward, or the id of a call run for its
    value), which the callees' code says (``Compiled.result_kind``); ``assignments``:
    ``_kind_assignments(fdef)`` where the caller has it."""
    found: Dict[str, Any] = {}
    results = results or {}

    def known(name):
        kind = kinds.get(name)
        return found.get(name) if kind is None else kind

    for node in _kind_assignments(fdef) if assignments is None else assignments:
        if isinstance(node.targets[0], gast.Tuple):
            name = node.targets[0].elts[0].id       # (y, y_residuals) = layer_fwd(...)
            kind = results.get(node.value.func.id)
            if kind is not None and name not in found and name not in kinds:
                found[name] = kind
        else:
            name = node.targets[0].id
            value = node.value
            if name not in found and name not in kinds:
                if isinstance(value, gast.Call) and id(value) in results:
                    found[name] = results[id(value)]
                elif isinstance(value, gast.Call) and isinstance(value.func, gast.Attribute) and \
                        value.func.attr in _INT_RESULTS and isinstance(value.func.value, gast.Name) and \
                        not value.args:
                    found[name] = _INT_KIND
                else:
                    kind = _value_kind(value, known, namespace)
                    if kind is not None:
                        found[name] = kind
    return found


def _kind_assignments(fdef) -> List:
    """The assignments ``_generated_kinds`` reads, in its order: ``(y, r) = f(...)`` and ``name = value``
    (one walk of the statements, kept by the caller while no code changes: was a walk for each round of
    resolution, each after a resolved call's value gave later names kinds)."""
    out = []
    todo = [fdef]
    while todo:
        node = todo.pop()
        if isinstance(node, gast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], gast.Tuple) \
                and node.targets[0].elts and isinstance(node.targets[0].elts[0], gast.Name) and \
                isinstance(node.value, gast.Call) and isinstance(node.value.func, gast.Name):
            out.append(node)
            continue
        if isinstance(node, gast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], gast.Name):
            out.append(node)
            continue
        if isinstance(node, (gast.Expr, gast.Return)):
            continue
        todo.extend(reversed(child_nodes(node)))   # (the context and operator leaves match nothing)
    return out


@dataclass
class _Bound:
    """A call resolved when its caller is compiled: what the generated code calls by name."""
    call: Any                  # the sct.call_sites.SiteCall
    first: Any                 # the forward (vjp ops) or the entry code (primal ops)
    second: Any                # the adjoint (vjp ops)
    compiled: Any              # the callee's Compiled (None: a dataclass's record pair)
    callee: Any                # what compiled.check is for (the function, method or __init__)
    kinds: Tuple               # the arguments' kinds, as kind_of gives them at the call
    traced: Tuple[bool, ...]
    exact: Tuple[bool, ...]    # per argument: its kind follows from the caller's kinds
    identity: Tuple = ()       # (object, attribute, value): getattr(object, attribute) is value
    conditions: Tuple = ()     # ("no backward" | "no post_init", class): checked at the call


class _Resolution:
    """Resolving the sites of one compiled function."""

    def __init__(self, namespace, kinds, version, context=None):
        self.namespace = namespace
        self.kinds = kinds
        self.version = version
        self.context = context          # _Context, or None (no calls by name)
        self.locals: Dict[int, Tuple[set, Dict[str, Any]]] = {}
        self.kept_names: Dict[int, tuple] = {}  # (_local_names, _kind_assignments) kept by forget_kinds
        self.walked: Dict[int, tuple] = {}      # the same of each function in locals
        self.walks: Dict[int, tuple] = {}       # _value_keep's index of each function, while no code changes
        self.results: Dict[Any, Any] = {}      # kinds of resolved calls' values (see _generated_kinds)
        self.bound: Dict[int, _Bound] = {}     # id(call node) -> its binding
        self.args: Tuple = ()                   # the arguments of the call being resolved
        self.arg_kinds: Tuple = ()              # and their kinds (None: not known)
        self.filename: Optional[str] = None     # the caller's file (for a refusal at a call)
        self.joint_calls: List[Tuple] = []       # (call, callee's Compiled, callee, args): callees with joint sites

    def local(self, fdef) -> Tuple[set, Dict[str, Any]]:
        found = self.locals.get(id(fdef))
        if found is None:
            kept = self.kept_names.pop(id(fdef), None)
            names, assignments = (_local_names(fdef), _kind_assignments(fdef)) if kept is None else kept
            self.walked[id(fdef)] = (names, assignments)
            found = self.locals[id(fdef)] = (names, _generated_kinds(fdef, self.kinds, self.namespace, self.results,
                                                                     assignments))
        return found

    def forget_kinds(self) -> None:
        """The kinds found so far forgotten (a resolved call's value gives later names their kinds),
        the names each function binds kept (no code changed: was a walk of the function for each
        call resolved in turn, quadratic in a chain of calls each reading the last one's value)."""
        self.kept_names = {key: self.walked[key] for key in self.locals}
        self.locals.clear()

    def record(self, call, compiled=None, reason="", resolved=False) -> CallRecord:
        return CallRecord(call.label, call.line, call.op, call.site, compiled, reason, resolved)

    def refuse_joint(self, call, compiled, fn) -> None:
        _refuse_joint(call, compiled, self.args, fn, self.filename, self.kinds, self.namespace, self.arg_kinds)
        if getattr(compiled, "joint_sites", ()):
            self.joint_calls.append((call, compiled, fn, tuple(self.args)))

    def resolve(self, call) -> CallRecord:
        node = call.node
        local, own = self.local(call.fdef)
        method = call.op in ("vjp_method", "primal_method")
        # the call after attach_sites: rt.X_at(site, target, [name,] mask, *args, **kwargs)
        rest = node.args[1:]
        if len(rest) < (3 if method else 2) or any(isinstance(a, gast.Starred) for a in rest):
            return self.record(call, reason="arguments unpacked with *")
        if any(k.arg is None for k in node.keywords):
            return self.record(call, reason="arguments unpacked with **")
        target = rest[0]
        name = rest[1].value if method and isinstance(rest[1], gast.Constant) else None
        mask = _mask(rest[2] if method else rest[1])
        args = rest[3:] if method else rest[2:]
        if mask is None or len(mask) != len(args) or (method and name is None):
            return self.record(call, reason="arguments known at run time only")
        kinds = tuple(_arg_kind(a, bool(m), self.kinds, local, own) for a, m in zip(args, mask))
        self.args, self.arg_kinds = args, kinds
        self.exact = tuple(self.context is not None and self.context.exact(call, a, bool(m))
                           for a, m in zip(args, mask))
        keywords = tuple(k.arg for k in node.keywords)
        if call.op in ("vjp", "primal_call"):
            fn = _static_value(target, self.namespace, local)
            return self.function(call, fn, mask, kinds)
        if method:
            return self.method(call, name, mask, kinds)
        cls = _static_value(target, self.namespace, local)
        return self.init(call, cls, mask, kinds, keywords)

    def function(self, call, fn, mask, kinds) -> CallRecord:
        if type(fn) is not types.FunctionType or getattr(fn, "__sct_closure__", None) is not None:
            return self.record(call, reason="callee known at run time only")
        if call.op == "primal_call" and getattr(fn, "__sct_generated__", False):
            return self.record(call, reason="generated code called as a value")
        if _recursive(fn):
            return self.record(call, reason="a recursive call")
        if any(k is None for k in kinds):
            return self.record(call, reason="argument kinds known at run time only")
        if any(k == _METHOD_KIND for k in kinds):      # vjp_pair checks bound methods on each call
            return self.record(call, reason="a bound method passed as an argument")
        _tc._refuse_forward_mode_entry(fn)
        with _descend(fn):
            if call.op == "vjp":
                compiled = _tc.vjp_for_kinds(fn, kinds, mask, keep=_value_keep(call, self.walks))
                first, second = compiled.fwd, compiled.bwd
            else:
                compiled = _tc.primal_for_kinds(fn, kinds, mask)
                first, second = compiled.entry, None
        self.refuse_joint(call, compiled, fn)
        self.add(call, SiteEntry(fn, mask, None, compiled.check, self.version, first, second, fn, ()), kinds, mask)
        self.bind(_Bound(call, first, second, compiled, fn, kinds, _flags(mask), self.exact))
        return self.record(call, compiled, resolved=True)

    def method(self, call, name, mask, kinds) -> CallRecord:
        receiver = kinds[0] if kinds else None
        if any(k is None for k in kinds) or not isinstance(receiver, tuple) or receiver[0] not in ("obj", "const"):
            return self.record(call, reason="receiver or argument kinds known at run time only")
        cls = receiver[1]
        if not isinstance(cls, type) or issubclass(cls, (Closure, list, tuple, dict, type)) or \
                module_top(cls) in ("sct", "sct_generated", "builtins") or \
                instance_field(receiver, name):
            return self.record(call, reason="callee known at run time only")
        try:
            func = inspect.getattr_static(cls, name)
        except AttributeError:
            return self.record(call, reason="callee known at run time only")
        if type(func) is not types.FunctionType or getattr(cls, name, None) is not func:
            return self.record(call, reason="callee known at run time only")
        from .runtime.layers import Layer
        if issubclass(cls, Layer) and name in ("predict", "forward", "__call__") and \
                (callable(getattr(cls, "backward", None)) or instance_field(receiver, "backward")):
            return self.record(call, reason="a layer with its own backward")
        if _recursive(func):
            return self.record(call, reason="a recursive call")
        if any(k == _METHOD_KIND for k in kinds):
            return self.record(call, reason="a bound method passed as an argument")
        with _descend(func):
            if call.op == "vjp_method":
                compiled = _tc.vjp_for_kinds(func, kinds, mask)
                first, second = compiled.fwd, compiled.bwd
            else:
                compiled = _tc.primal_for_kinds(func, kinds, mask)
                first, second = compiled.entry, None
        self.refuse_joint(call, compiled, func)
        check = compiled.check
        conditions: Tuple = ()
        if issubclass(cls, Layer):          # as site_miss: a backward added later takes over
            check = (lambda f, check=compiled.check: check(f) and not callable(getattr(cls, "backward", None)))
            conditions = (("no backward", cls),)
        self.add(call, SiteEntry(cls, mask, None, check, self.version, first, second, func, ()), kinds, mask)
        exact = (False,) + self.exact[1:]           # the receiver: its class and fields, at the call
        self.bind(_Bound(call, first, second, compiled, func, kinds, _flags(mask), exact,
                         ((cls, name, func),), conditions))
        return self.record(call, compiled, resolved=True)

    def init(self, call, cls, mask, kinds, keywords) -> CallRecord:
        if not isinstance(cls, type):
            return self.record(call, reason="class known at run time only")
        init = cls.__init__
        if _tc._generated_dataclass_init(cls):
            if hasattr(cls, "__post_init__"):
                return self.record(call, reason="a dataclass with __post_init__")
            count = len(mask)
            pair = _tc._record_pair(cls, count - 1, keywords, namedtuple=False)
            match = lambda a, count=count: len(a) == count   # noqa: E731
            check = lambda f, cls=cls: not hasattr(cls, "__post_init__")   # noqa: E731
            entry = SiteEntry(cls, mask, match, check, self.version, pair[0], pair[1], init, keywords)
            _tc._add_entry(call.site, entry)
            self.bind(_Bound(call, pair[0], pair[1], None, init, (None,) * count, _flags(mask),
                             (True,) * count, ((cls, "__init__", init),), (("no post_init", cls),)))
            return self.record(call, reason="a dataclass: its fields are its arguments", resolved=True)
        if type(init) is not types.FunctionType or cls.__new__ is not object.__new__ or \
                getattr(cls, "__dictoffset__", 0) == 0:
            return self.record(call, reason="constructor known at run time only")
        # the new object (rt.new_object(cls)) before __init__ runs: an empty instance
        kinds = (kind_of(object.__new__(cls), mask[0]),) + tuple(kinds[1:])
        if any(k is None for k in kinds):
            return self.record(call, reason="argument kinds known at run time only")
        if any(k == _METHOD_KIND for k in kinds):
            return self.record(call, reason="a bound method passed as an argument")
        if _recursive(init):
            return self.record(call, reason="a recursive call")
        with _descend(init):
            compiled = _tc.vjp_for_kinds(init, kinds, mask, returns_self=True)
        entry = SiteEntry(cls, mask, None, compiled.check, self.version, compiled.fwd, compiled.bwd, init, keywords)
        self.add(call, entry, kinds, mask)
        exact = (True,) + self.exact[1:]            # the new object, made just before by rt.new_object
        self.bind(_Bound(call, compiled.fwd, compiled.bwd, compiled, init, kinds, _flags(mask), exact,
                         ((cls, "__init__", init),)))
        return self.record(call, compiled, resolved=True)

    def add(self, call, entry, kinds, mask) -> None:
        match = _PredictedKinds(kinds, tuple(bool(m) for m in mask), call.site)
        entry = entry._replace(match=match)
        match.entry = entry
        _tc._add_entry(call.site, entry)

    def bind(self, bound: _Bound) -> None:
        """Keep ``bound`` for the calls by name (and the kind of its value for later calls)."""
        if self.context is None:
            return
        self.bound[id(bound.call.node)] = bound
        kind = getattr(bound.compiled, "result_kind", None)
        if kind is None:
            return
        if bound.call.op in ("primal_call", "primal_method"):
            self.results[id(bound.call.node)] = kind
        else:
            pair = _pair_statement(bound.call)
            if pair is not None:
                self.results[pair[1].targets[0].elts[0].id] = kind


_METHOD_KIND = ("const", types.MethodType)


def _flags(mask) -> Tuple[bool, ...]:
    return tuple(bool(m) for m in mask)


def _recursive(fn) -> bool:
    compiling = _STATE.compiling
    return (compiling is not None and id(fn.__code__) in compiling) or _STATE.depth >= MAX_DEPTH


class _descend:
    """While a callee is compiled for its caller: its code is on this thread's chain."""

    def __init__(self, fn):
        self.key = id(fn.__code__)

    def __enter__(self):
        if _STATE.compiling is None:
            _STATE.compiling = {}
        _STATE.compiling[self.key] = _STATE.compiling.get(self.key, 0) + 1
        _STATE.depth += 1

    def __exit__(self, *exc):
        _STATE.depth -= 1
        count = _STATE.compiling[self.key] - 1
        if count:
            _STATE.compiling[self.key] = count
        else:
            del _STATE.compiling[self.key]
        return False


class _Context:
    """What calling resolved callees by name needs of the caller's compilation."""

    def __init__(self, generated, namer, rt_name: str, param_kinds: Dict[str, Any]):
        self.generated = generated
        self.namer = namer
        self.rt_name = rt_name
        self.param_kinds = param_kinds
        # the generated functions that receive the caller's own arguments
        self.direct = {generated.entry, getattr(generated, "fwd", None)} - {None}
        self.names = {f.name for f in generated.functions if isinstance(f, gast.FunctionDef)}
        self._stored: Dict[int, set] = {}
        self._flat: Dict[int, set] = {}
        self._parents: Dict[Tuple[int, bool], Dict[int, Tuple[Any, str]]] = {}
        self.bound_names: Dict[int, Tuple[Any, str]] = {}    # id(value) -> (value, its global name)
        self._counts: Dict[int, Dict[str, int]] = {}
        self.renames: Dict[int, Tuple[Any, Dict[str, str]]] = {}   # id(fdef) -> (fdef, {local: global})

    def stored(self, fdef) -> set:
        """Names ``fdef`` (or a function nested in it) binds anywhere."""
        found = self._stored.get(id(fdef))
        if found is None:
            found = {n.id for n in walk_nodes(fdef) if isinstance(n, gast.Name) and
                     isinstance(n.ctx, (gast.Store, gast.Del))}
            # an array changed in place in a way that changes its kind (x.shape = ..., x.resize(...))
            found |= {n.value.id for n in walk_nodes(fdef) if isinstance(n, gast.Attribute) and
                      isinstance(n.value, gast.Name) and
                      (not isinstance(n.ctx, gast.Load) or n.attr == "resize")}
            for inner in walk_nodes(fdef):
                if isinstance(inner, gast.FunctionDef) and inner is not fdef:
                    found |= _local_names(inner) | {inner.name}
            self._stored[id(fdef)] = found
        return found

    def exact(self, call, node, traced: bool) -> bool:
        """Whether the kind of the argument ``node`` follows from the caller's kinds: a literal, or a
        parameter of the caller never rebound, holding a value no code can change in place."""
        if isinstance(node, gast.Constant):
            return True
        fdef = call.fdef
        if not isinstance(node, gast.Name) or fdef.name not in self.direct:
            return False
        params = [a.id for a in fdef.args.args if isinstance(a, gast.Name)]
        if node.id not in params or node.id in self.stored(fdef) or node.id not in self.param_kinds:
            return False
        flat = self._flat.get(id(fdef))
        if flat is None:
            flat = self._flat[id(fdef)] = {id(n) for n in walk_no_defs(fdef)}
        return id(call.node) in flat and _immutable(self.param_kinds[node.id], traced)

    def store_counts(self, fdef) -> Dict[str, int]:
        """How many times ``fdef`` binds each name (parameters included); the pairs' names, which
        calls by name stop binding, are never read again."""
        counts = self._counts.get(id(fdef))
        if counts is None:
            counts = self._counts[id(fdef)] = {}
            for n in walk_nodes(fdef):
                if isinstance(n, gast.Name) and not isinstance(n.ctx, gast.Load):
                    counts[n.id] = counts.get(n.id, 0) + 1
        return counts

    def parents(self, fdef, full: bool = False) -> Dict[int, Tuple[Any, str]]:
        """id(node) -> (its parent, the parent's field holding it): for statements and the values
        of assignments and returns (where calls of generated code are), or (``full``) every node."""
        key = (id(fdef), full)
        found = self._parents.get(key)
        if found is None:
            found = self._parents[key] = {}
            if full:
                for parent in gast.walk(fdef):
                    for name, value in gast.iter_fields(parent):
                        if isinstance(value, gast.AST):
                            found[id(value)] = (parent, name)
                        elif isinstance(value, list):
                            for child in value:
                                if isinstance(child, gast.AST):
                                    found[id(child)] = (parent, name)
                return found
            todo = [fdef]
            while todo:
                parent = todo.pop()
                for name in ("body", "orelse", "finalbody", "handlers"):
                    for child in getattr(parent, name, None) or ():
                        if isinstance(child, gast.AST):
                            found[id(child)] = (parent, name)
                            todo.append(child)
                            value = getattr(child, "value", None)
                            if isinstance(child, (gast.Assign, gast.Return, gast.Expr)) and \
                                    isinstance(value, gast.AST):
                                found[id(value)] = (child, "value")
        return found


def _immutable(kind, traced: bool) -> bool:
    """Whether a value of this kind (a caller's argument) has, while the caller runs, the kind
    ``_retrace(kind, traced)`` says: arrays (their dtype and rank cannot change in place), numbers,
    constants, tuples of those; not lists, dicts or objects (code may change their parts)."""
    if not isinstance(kind, tuple) or not kind:
        return False
    tag = kind[0]
    if tag == "nd":
        return len(kind) == 3
    if tag == "dl":        # a dlarray left wrapped has this kind whatever the flag: only when traced
        return len(kind) == 3 and traced and np.dtype(kind[1]).kind in "fc"
    if tag == "num":
        return True
    if tag == "const":
        return len(kind) == 2 and isinstance(kind[1], type) and not issubclass(kind[1], (dict, list, set))
    if tag == "seq":
        return kind[1] is tuple and all(_immutable(k, traced) for k in kind[2])
    return False


def _value_keep(call, walks: Optional[Dict[int, tuple]] = None):
    """"type" where the caller reads the value its forward returns only to seed a sweep
    (``(f, b) = rt.vjp_at(...)``, then ``(y, r) = f(...)`` once, ``y`` read only as
    ``rt.seed(y)``, which checks its type, dtype and shape: a dlgradient of a value the function
    does not use otherwise, as in a nested gradient's first sweep): the callee's forward then
    computes only what its residuals need (sct/optimize.py ``keep_outputs``).  Else None.
    ``walks``: id(function) -> (function, its ``_keep_index``), for calls of one function whose
    code does not change between them (was: three walks of the function for each call)."""
    context = _CONTEXT.get(id(call.fdef))
    found = _pair_statement(call)
    if context is None or found is None:
        return None
    fwd = found[1].targets[0].elts[0].id
    runtime = {context.rt_name, "rt"}
    hit = walks.get(id(call.fdef)) if walks is not None else None
    if hit is None or hit[0] is not call.fdef:
        hit = (call.fdef, _keep_index(call.fdef))
        if walks is not None:
            walks[id(call.fdef)] = hit
    index = hit[1]
    if index is None:
        return None             # (a lambda, class, global, nonlocal or nested def)
    loads, assigned, seeds, passes, names = index
    made = assigned.get(fwd, ())
    if len(made) != 1:
        return None
    target = made[0].targets[0] if len(made[0].targets) == 1 else None
    if not isinstance(target, gast.Tuple) or len(target.elts) != 2 or not isinstance(target.elts[0], gast.Name):
        return None
    value = target.elts[0].id
    if loads.get(fwd, 0) != 1:
        return None
    seeded = {arg for base, arg in seeds if base in runtime}
    passed = {arg: where for arg, where in passes.get(value, ())}
    stores = 0
    for node in names.get(value, ()):
        if isinstance(node.ctx, gast.Load):
            if id(node) not in seeded and not (id(node) in passed and _only_seeded(context, *passed[id(node)])):
                return None
        else:
            stores += 1
    return "type" if stores == 1 else None


def _keep_index(fdef) -> Optional[tuple]:
    """What ``_value_keep`` reads of ``fdef``, from one walk: None where it holds a lambda, class,
    global, nonlocal or nested def; else (name -> its loads, callee's name -> the assignments
    ``t = callee(...)``, (runtime's name, id(y)) of each ``rt.seed(y)``, name -> (id(load), (callee's
    name, position)) of each call by name without keywords passing it, name -> its Name nodes), each
    in the walk's order."""
    loads: Dict[str, int] = {}
    assigned: Dict[str, list] = {}
    seeds: List[tuple] = []
    passes: Dict[str, list] = {}
    names: Dict[str, list] = {}
    for node in walk_nodes(fdef):
        cls = node.__class__
        if cls in (gast.Lambda, gast.ClassDef, gast.Global, gast.Nonlocal) or \
                cls is gast.FunctionDef and node is not fdef:
            return None
        if cls is gast.Name:
            names.setdefault(node.id, []).append(node)
            if isinstance(node.ctx, gast.Load):
                loads[node.id] = loads.get(node.id, 0) + 1
        elif cls is gast.Assign and isinstance(node.value, gast.Call) and isinstance(node.value.func, gast.Name):
            assigned.setdefault(node.value.func.id, []).append(node)
        if cls is gast.Call:
            if isinstance(node.func, gast.Attribute) and node.func.attr == "seed" and \
                    isinstance(node.func.value, gast.Name) and len(node.args) == 1 and not node.keywords and \
                    isinstance(node.args[0], gast.Name):
                seeds.append((node.func.value.id, id(node.args[0])))
            if isinstance(node.func, gast.Name) and not node.keywords:
                for k, arg in enumerate(node.args):
                    if isinstance(arg, gast.Name):
                        passes.setdefault(arg.id, []).append((id(arg), (node.func.id, k)))
    return loads, assigned, seeds, passes, names


def _only_seeded(context, name: str, position: int) -> bool:
    """Whether the generated function ``name`` of this compilation (a dlgradient's sweep) reads its
    parameter at ``position`` only as ``rt.seed(p)`` and never binds it again."""
    fdef = next((f for f in context.generated.functions if isinstance(f, gast.FunctionDef) and f.name == name), None)
    if fdef is None or fdef.args.vararg is not None or fdef.args.kwonlyargs or position >= len(fdef.args.args) or \
            not isinstance(fdef.args.args[position], gast.Name):
        return False
    param = fdef.args.args[position].id
    runtime = {context.rt_name, "rt"}
    seeded = set()
    for node in walk_nodes(fdef):
        cls = node.__class__
        if cls in (gast.Lambda, gast.ClassDef, gast.Global, gast.Nonlocal) or cls is gast.FunctionDef and node is not fdef:
            return False
        if cls is gast.Call and isinstance(node.func, gast.Attribute) and node.func.attr == "seed" and \
                isinstance(node.func.value, gast.Name) and node.func.value.id in runtime and \
                len(node.args) == 1 and not node.keywords and isinstance(node.args[0], gast.Name):
            seeded.add(id(node.args[0]))
    for node in walk_nodes(fdef):
        if node.__class__ is gast.Name and node.id == param and node is not fdef.args.args[position]:
            if not isinstance(node.ctx, gast.Load) or id(node) not in seeded:
                return False
    return True


def _pair_statement(call):
    """``(parent, statement)`` of the call's pair ``(f, b) = rt.vjp_at(...)``, or None."""
    return _statement_of(call, call.node)


def _statement_of(call, node):
    context = _CONTEXT.get(id(call.fdef))
    if context is None:
        return None
    parents = context.parents(call.fdef)
    up = parents.get(id(node))
    if up is None:
        return None
    statement = up[0]
    if not (isinstance(statement, gast.Assign) and statement.value is node and len(statement.targets) == 1 and
            isinstance(statement.targets[0], gast.Tuple) and len(statement.targets[0].elts) == 2 and
            all(isinstance(e, gast.Name) for e in statement.targets[0].elts)):
        return None
    holder = parents.get(id(statement))
    return (holder[0], statement) if holder is not None else None


_CONTEXT: Dict[int, "_Context"] = {}      # id(generated function) -> its context, while resolving


class CallTree:
    """One compilation's call tree: its records, the checks folded into the caller's, and the
    calls resolved once the caller is loaded (generated sweeps differentiated again)."""

    def keep_forwards(self, params, name: str) -> None:
        """In a helper (parameters ``params``): give each call left to run time the parameters its
        arguments read (``CallSite.forwards``), for the check of a callee known then that takes a
        joint dlgradient (sct/transform_calls.py ``_refuse_joint_args``)."""
        graphs: Dict[int, Dict[str, set]] = {}
        for call, record in zip(self.calls, self.records):
            if record is not None and record.resolved or not hasattr(call.site, "forwards"):
                continue
            args = _call_args(call)
            if len(args) < 2 or any(isinstance(a, gast.Starred) for a in args):
                continue
            graph = graphs.get(id(call.fdef))
            if graph is None:
                graph = graphs[id(call.fdef)] = _reads_graph(call.fdef)
            deps = _parameter_reads(graph, params, args)
            if sum(1 for d in deps if d) >= 2:
                call.site.forwards = (deps, name, self.resolution.filename, call.line)

    def forwarded_joint_sites(self, params) -> tuple:
        """The joint sites (sct/helper_sites.py) of the callees resolved here, read as sites of this
        function's own parameters ``params``: ``g = lambda z, y: hj(z, y)`` passes its ``z`` and ``y``
        to a helper taking dlgradient of its first parameter of a y that reads its second, so a call
        ``g(x, x * 2)`` is refused as ``hj(x, x * 2)`` is (was: g had no joint sites, and that call
        got the partial derivative, holding ``x * 2`` constant).  A parameter reaches an argument by
        ``_reads_graph`` (more than the values carry, never less)."""
        out = []
        graphs: Dict[int, Dict[str, set]] = {}
        for call, compiled, fn, args in self.resolution.joint_calls:
            graph = graphs.get(id(call.fdef))
            if graph is None:
                graph = graphs[id(call.fdef)] = _reads_graph(call.fdef)
            out += joint_sites_through(compiled.joint_sites, _parameter_reads(graph, params, args),
                                       getattr(fn, "__name__", "a helper"))
        return tuple(out) + self._unresolved_joint_sites(params, graphs)

    def _unresolved_joint_sites(self, params, graphs) -> tuple:
        """A call left to run time (``g3({"a": a, "b": b})``: a display's kind is known then only) of
        a function of the user's that takes dlgradient with respect to the parameter given a value
        made of several of this function's parameters (read off its source, plain_leaves'
        _takes_gradient_of): a site of those parameters among themselves, so that a caller passing
        there values computed from one another (``h3(w, w * 3)``) is refused as the callee's own
        joint site would refuse it (was: the callee was compiled after this function's joint sites
        were read, and the call got the partial derivative)."""
        from .plain_leaves import _takes_gradient_of
        out = []
        displays: Dict[int, Any] = {}
        for call, record in zip(self.calls, self.records):
            if record is None or record.resolved or call.op not in ("vjp", "primal_call"):
                continue
            args = _call_args(call)
            if not args or any(isinstance(a, gast.Starred) for a in args) or len(call.node.args) < 2:
                continue
            fn = _static_value(call.node.args[1], self.resolution.namespace, self.resolution.local(call.fdef)[0])
            if type(fn) is not types.FunctionType:
                continue
            graph = graphs.get(id(call.fdef))
            if graph is None:
                graph = graphs[id(call.fdef)] = _reads_graph(call.fdef)
            names = fn.__code__.co_varnames[:fn.__code__.co_argcount]
            shown = displays.get(id(call.fdef))
            if shown is None:
                shown = displays[id(call.fdef)] = _displays(call.fdef)
            for k, deps in enumerate(_parameter_reads(graph, params, args)):
                # (a display, or a name bound to one: its items are the parameters' values or items; a
                # field of a parameter, ``{"a": self.a, "b": self.b}``, too)
                display = isinstance(args[k], (gast.List, gast.Tuple, gast.Dict)) or \
                    isinstance(args[k], gast.Name) and args[k].id in shown
                if deps and display and k < len(names) and _takes_gradient_of(fn, names[k]):
                    where = f"in {getattr(fn, '__name__', 'a helper')}(), called on line {call.line}"
                    out.append((where, tuple(sorted(deps)), tuple(sorted(deps))))
        return tuple(out)

    def keep_entry_links(self) -> None:
        """In the function dlfeval runs (not a helper): a call passing on its ``*args`` parameter as it
        is (``def wrapper(*args): return f(*args)``, ``lambda *a: f(*a)``) links its items as the same
        call with named parameters would (:func:`_forwarded_links`); was: every pair, so a decorated
        loss function taking dlgradient of W of a y reading x was refused, "x computed from W"."""
        entry = getattr(self.context.generated, "entry", None) if self.context is not None else None
        for call in self.calls:
            site = call.site
            # (in the entry's own code: not a function defined in it, whose *args are what it is given)
            if getattr(site, "linked", None) is not None and site.linked[0] is ALL_PAIRS and \
                    entry is not None and getattr(call.fdef, "name", None) == entry:
                links = _forwarded_links(call, self.resolution.kinds, self.resolution.namespace)
                if links is not None:
                    site.linked = (links, self.resolution.filename, call.line) if links else None

    def __init__(self, fn, calls, resolution, context):
        self.fn = fn
        self.calls = calls
        self.resolution = resolution
        self.context = context
        self.records: List[Optional[CallRecord]] = [None] * len(calls)
        self.deferred: List[int] = []
        self.folded: List[Tuple[Any, Any]] = []
        self.opaque = True
        self.recheck = False


def resolve_call_tree(fn, calls: List, namespace: Dict[str, Any], kinds: Dict[str, Any], generated=None,
                      namer=None, rt_name: str = "rt", param_kinds: Optional[Dict[str, Any]] = None) -> CallTree:
    """Give each call site of ``fn``'s generated code (``calls``: sct.call_sites.SiteCall) whose
    callee and argument kinds are known now its callee's generated code (compiled now, or found
    in the cache), called by name from the generated code (``generated``, rewritten here, before
    its source is emitted; its new globals go into ``namespace``).  A callee that cannot be
    compiled for the predicted kinds is left to its first call (which reports any error where it
    happens).  Calls of generated functions of ``fn`` itself are resolved by :func:`finish_call_tree`."""
    context = _Context(generated, namer, rt_name, param_kinds or {}) if generated is not None and namer else None
    resolution = _Resolution(namespace, kinds, registry.rules_version(), context)
    resolution.filename = getattr(getattr(fn, "__code__", None), "co_filename", None)
    tree = CallTree(fn, calls, resolution, context)
    if context is not None:
        for f in generated.functions:
            _CONTEXT[id(f)] = context
    try:
        code = getattr(fn, "__code__", None)
        with _descend(fn) if code is not None else _nothing():
            for _ in range(len(calls) + 1):   # again where a resolved call's value gives a later call its kinds
                known = len(resolution.results)
                for i, call in enumerate(calls):
                    if tree.records[i] is not None and tree.records[i].resolved:
                        continue
                    if context is not None and _calls_own_code(call, context):
                        if i not in tree.deferred:
                            tree.deferred.append(i)
                        continue
                    tree.records[i] = _resolve_one(resolution, call)
                if len(resolution.results) == known:
                    break
                resolution.forget_kinds()
            resolution.kept_names, resolution.walks = {}, {}
        if context is not None:
            _bind_all(tree)
        _keep_links(tree)
    finally:
        if context is not None:
            for f in generated.functions:
                _CONTEXT.pop(id(f), None)
    return tree


def _reads_graph(fdef) -> Dict[str, set]:
    """name -> the names its values are computed from, over every statement of the generated
    function (flow-insensitive: more than the values can carry, never less); an object changed by
    a call (``buf.append(v)``, ``obj.f(v)``) reads that call's names."""
    graph: Dict[str, set] = {}
    modules = _module_names(fdef)
    for node in walk_nodes(fdef):       # (gast.walk's nodes but the context and operator leaves)
        if isinstance(node, (gast.Assign, gast.AugAssign, gast.AnnAssign, gast.For)):
            targets = node.targets if isinstance(node, gast.Assign) else [node.target]
            value = node.iter if isinstance(node, gast.For) else node.value
            reads = {n.id for n in walk_nodes(value) if isinstance(n, gast.Name)} if value is not None else set()
            for target in targets:
                stored = [n.id for n in walk_nodes(target) if isinstance(n, gast.Name)]
                for name in stored:
                    graph.setdefault(name, set()).update(reads, (m for m in stored if m != name))
        elif isinstance(node, gast.Expr) and isinstance(node.value, gast.Call) and \
                isinstance(node.value.func, gast.Attribute):
            base = node.value.func.value
            while isinstance(base, (gast.Attribute, gast.Subscript)):
                base = base.value
            if isinstance(base, gast.Name) and base.id not in modules:
                graph.setdefault(base.id, set()).update(n.id for n in walk_nodes(node.value) if isinstance(n, gast.Name))
    return graph


def _module_names(fdef) -> set:
    """The runtime's and numpy's names in generated code ``fdef``, where it binds none of them itself: a
    call on them (``rt.array_operand(t, ...)``, a check of an operand) changes no object of theirs that
    values are computed from (was: ``rt`` read as changed by the call, so every value computed through
    ``rt.as_sequence(...)`` read its arguments: ``v * s`` of a loop over ``(3.0, 3.0)`` taken for a value
    computed from ``w``, and a helper's dlgradient refused).  The runtime is ``rt`` unless the user's code
    names something so (sct.compiler._namer: then ``sct_rt...``, and ``rt`` is the user's)."""
    names, bound = set(), set()
    for n in walk_nodes(fdef):
        if isinstance(n, gast.Name):
            names.add(n.id)
            if not isinstance(n.ctx, gast.Load):
                bound.add(n.id)
    runtime = {n for n in names if n.startswith("sct_rt")} or {"rt"}
    return (runtime | {"np", "numpy", "math"}) - bound


def _parameter_reads(graph: Dict[str, set], params, args) -> tuple:
    """For each argument of a call, the positions of the parameters (``params``) it is computed from."""
    return tuple(frozenset(k for k, p in enumerate(params) if _computed_from(graph, _arg_names(a), {p}))
                 for a in args)


def _computed_from(graph: Dict[str, set], names: set, sources: set) -> bool:
    seen, todo = set(names), list(names)
    while todo:
        name = todo.pop()
        if name in sources:
            return True
        for m in graph.get(name, ()):
            if m not in seen:
                seen.add(m)
                todo.append(m)
    return False


class _Reach:
    """``_computed_from(graph, names, sources)`` for many queries of one graph: for each name of the
    graph (its keys and the names they read), the names reachable from it (itself included), as a
    bit mask, found once (the graph's strongly connected components, each masked as the union of
    its members and its successors' masks) rather than by a walk of the graph per query."""

    def __init__(self, graph: Dict[str, set]):
        bits: Dict[str, int] = {}
        reach: Dict[str, int] = {}
        index: Dict[str, int] = {}
        low: Dict[str, int] = {}
        stack: List[str] = []
        on_stack: set = set()
        get = graph.get
        for root in graph:
            if root in index:
                continue
            index[root] = low[root] = len(index)
            stack.append(root)
            on_stack.add(root)
            work = [(root, iter(get(root, ())))]
            while work:             # (Tarjan's, without recursion)
                node, successors = work[-1]
                for m in successors:
                    if m not in index:
                        index[m] = low[m] = len(index)
                        stack.append(m)
                        on_stack.add(m)
                        work.append((m, iter(get(m, ()))))
                        break
                    if m in on_stack and index[m] < low[node]:
                        low[node] = index[m]
                else:
                    work.pop()
                    if work and low[node] < low[work[-1][0]]:
                        low[work[-1][0]] = low[node]
                    if low[node] == index[node]:
                        members = []
                        while True:
                            m = stack.pop()
                            on_stack.discard(m)
                            members.append(m)
                            if m == node:
                                break
                        mask = 0
                        for m in members:
                            mask |= 1 << bits.setdefault(m, len(bits))
                        for m in members:
                            for succ in get(m, ()):
                                mask |= reach.get(succ, 0)     # (done: an earlier component, or this one)
                        for m in members:
                            reach[m] = mask
        self.bits, self.reach = bits, reach

    def computed_from(self, names, sources) -> bool:
        """``_computed_from(graph, names, sources)``."""
        reach, mask = self.reach, 0
        for name in names:
            if name in sources:
                return True
            mask |= reach.get(name, 0)
        if mask:
            bits = self.bits
            for name in sources:
                bit = bits.get(name)
                if bit is not None and mask >> bit & 1:
                    return True
        return False


def _arg_names(node) -> set:
    return {n.id for n in walk_nodes(node) if isinstance(n, gast.Name)}


def _links(fdef, args, graph=None, kinds=None, namespace=None, methods=True, holds=None, displays=None):
    """The pairs ``(i, j)``: argument ``j`` of a call in the generated ``fdef`` computed from (or the
    same value as) argument ``i``, by ``_reads_graph``; ``namespace``: the generated globals, where
    the helpers called are read (what their values hold: :class:`_KnownReturns`); ``holds``: the
    ``_holds_graph`` of ``fdef`` for these, where the caller has it."""
    names = [_arg_names(a) for a in args]
    pairs = set()
    for i, xi in enumerate(names):
        if not xi:
            continue
        for j, xj in enumerate(names):
            if j != i and xj:
                if graph is None:
                    graph = _reads_graph(fdef)
                if holds is None:
                    holds = _holds_graph(fdef, kinds, namespace=namespace, methods=methods)
                # (what argument i holds as it is, in a list, tuple or dict built of names: ``{"w": x}``
                # passed beside ``x * 2`` links them as ``x`` and ``x * 2`` do; was: not linked, a partial
                # derivative for a helper's dlgradient(loss, p["w"]))
                held = _held(holds, xi)
                if xj & held or _computed_from(graph, xj, held):
                    pairs.add((i, j))
                if isinstance(args[i], gast.Name) and isinstance(args[j], gast.Name) and args[i].id == args[j].id:
                    pairs.add(("same", i, j))       # one value passed twice (sct/helper_sites.py)
    for i, j in [p for p in pairs if len(p) == 2 and p[0] != p[1] and (p[1], p[0]) in pairs]:
        # (read both ways by name, as loop-carried state is: linked where one is computed from the other
        # at the call)
        if displays is None:
            displays = _displays(fdef)
        if _computed_just_before(displays.statements(), args[j], names[j], names[i]):
            pairs.add(("direct", i, j))
    for i, xi in enumerate(names):
        if xi and isinstance(args[i], (gast.Name, gast.List, gast.Tuple, gast.Dict)):
            if graph is None:
                graph = _reads_graph(fdef)
            if displays is None:
                displays = _displays(fdef)
            if _display_linked(displays, args[i], graph) or _repeated(displays, args[i], kinds or {}, set()):
                pairs.add((i, i))
            elif isinstance(args[i], gast.Name) and not _made_here(displays, args[i].id):
                # (not a display made where it is bound of names none filled in place, ``g = grad({"W":
                # W, "b": b})`` in a loop rebinding W and b: its items are the values they have there,
                # read above; was: what it holds read as an RNN's states, W computed from its earlier one)
                if holds is None:
                    holds = _holds_graph(fdef, kinds, namespace=namespace, methods=methods)
                held = _held(holds, {args[i].id}) - {args[i].id}
                if _display_linked(displays, args[i], graph, held, kinds):
                    # what it holds, whatever built it, linked: where it is a list, tuple, dict or
                    # object (an array's "items" are no values of their own: refuse_linked)
                    pairs.add(("held", i))
                    shadowed = _nested_names(fdef) & (held | {args[i].id})
                    if shadowed:
                        # (names a nested def binds too, read by name as this function's: the refusal
                        # says so, red team 51 FR8)
                        pairs.add(("nested", i, tuple(sorted(shadowed))))
            if isinstance(args[i], gast.Name):
                paths = _result_links(displays, args[i].id, namespace, kinds, graph)
                if paths != frozenset():
                    # a list, dict or object a helper returned (``g3(mk(w))`` with ``mk`` returning
                    # ``{"a": w, "b": w * 3}``): its items may be computed from one another, in the
                    # callee (was: not linked, the partial derivative); for a structure only, where
                    # the items at ``paths`` (None: any) are traced (helper_sites.refuse_linked)
                    pairs.add(("result", i, paths))
    return frozenset(pairs)


def _nested_names(fdef) -> set:
    """The names the defs nested in ``fdef`` bind (their own locals and parameters)."""
    out: set = set()
    for d in walk_nodes(fdef):
        if d is not fdef and isinstance(d, (gast.FunctionDef, gast.AsyncFunctionDef)):
            out |= {n.id for n in walk_nodes(d) if isinstance(n, gast.Name) and not isinstance(n.ctx, gast.Load)}
    return out


def _made_here(displays, name: str) -> bool:
    """Is ``name`` bound only to list, tuple or dict displays, neither it nor what its items are read
    from (``[hs[1], hs[2]]``: hs) filled in place?"""
    values = displays.bindings.get(name)
    if not values or name in displays.appended or \
            not all(isinstance(v, (gast.List, gast.Tuple, gast.Dict)) for v in values):
        return False
    own: set = set()
    items = _display_items(displays, gast.Name(id=name, ctx=gast.Load(), annotation=None, type_comment=None), own)
    roots = {root_name(v) for a in items for v in displays.bindings.get(a, ())
             if isinstance(v, (gast.Subscript, gast.Attribute))}
    return not ((own | roots) & displays.appended)


def _computed_just_before(statements, arg, xj: set, xi: set) -> bool:
    """Is argument ``arg`` (its names ``xj``) computed from the value the names ``xi`` have at the
    call, by the plain assignments just before the statement holding it in its block (``v = w * 3``
    then ``g2(w, v)``)?  Then ``(j, i)`` read both ways (``w = v * 0.5`` later in the loop) is not
    loop-carried state of one step's results (helper_sites.refuse_linked): j is computed from i at
    the call.  No where not shown so."""
    need = set(xj)
    chain = statements.get(id(arg), ())
    for pos in range(len(chain) - 1, -1, -1):
        # (then the statements before the loop or branch holding the block: the loop's first pass)
        block, index = chain[pos]
        found = _computed_before(block[:index], need, xi)
        if found is not None:
            return found
        holder = chain[pos - 1][0][chain[pos - 1][1]] if pos else None
        if isinstance(holder, (gast.For, gast.While)) and block and block[0] in holder.body and \
                _computed_around(block, set(need), xi):
            # the loop's earlier passes: computed after the call, for the next pass's (``g = h(w, v)``
            # then ``w = w - g[0]; v = w * 3``; was: read as loop-carried state, not linked: the
            # partial derivative for v's path from w)
            return True
    return False


def _computed_around(body, need: set, xi: set) -> bool:
    """_computed_before over a loop's ``body`` walked backwards once or more (the earlier passes),
    until what the argument reads grows no more: True where it is computed from ``xi``'s value."""
    while True:
        seen = set(need)
        found = _computed_before(body, need, xi)
        if found is not None:
            return found
        if need <= seen:
            return False


def _computed_before(statements, need: set, xi: set) -> Optional[bool]:
    """_computed_just_before over ``statements`` (backwards), ``need`` the names the argument
    reads (updated): True, False (xi bound there: an earlier value before), None (not told)."""
    for st in reversed(statements):
        if not (isinstance(st, gast.Assign) and all(isinstance(t, gast.Name) for t in st.targets)):
            stored = {n.id for n in walk_nodes(st) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)}
            if stored & need:       # (bound in a branch or a loop: from any name read there)
                reads = _arg_names(st) - stored
                if reads & xi:
                    return True
                need |= reads
            if stored & xi:
                return False
            continue
        stored = {t.id for t in st.targets}
        if stored & need:
            reads = _arg_names(st.value)
            if reads & xi:
                return True
            need -= stored
            need |= reads
        if stored & xi:
            return False            # (before: an earlier value of i)
    return None


def _statement_chains(fdef) -> Dict[int, list]:
    """id(expression node) -> (the block, the index there) of each statement holding it, outermost first."""
    out: Dict[int, list] = {}
    blocks = ("body", "orelse", "finalbody", "handlers")

    def visit(stmts, chain):
        for k, st in enumerate(stmts):
            here = chain + [(stmts, k)]
            todo = [c for f, c in gast.iter_fields(st) if f not in blocks]
            while todo:
                n = todo.pop()
                if isinstance(n, list):
                    todo.extend(n)
                elif isinstance(n, gast.AST):
                    out[id(n)] = here
                    todo.extend(c for _, c in gast.iter_fields(n))
            for f in blocks:
                inner = getattr(st, f, None)
                if isinstance(inner, list):
                    visit([b for b in inner if isinstance(b, gast.AST)], here)
    visit(fdef.body, [])
    return out


def _result_links(displays, name: str, namespace, kinds, graph) -> Optional[frozenset]:
    """Where ``name`` may be the value a helper of the user's returned: the key paths of its items
    other items may be computed from (sct/fresh_returns.py), None where not told (a helper not
    known when compiling, or not fresh); empty where it is no such value or a fresh one."""
    results = displays.results
    local = set(displays.bindings) | set(results)
    out: set = set()
    bindings = displays.bindings
    names = _same_values(bindings, name)
    # a value a helper returned held as an item (``ds = [mk(w)]; g3(ds[0])``, ``g3({"d": mk(w)})``):
    # its links anywhere in the argument (was: not read, the partial derivative)
    # (and the names whose items it holds: ``hs = list(gen(w))``, the sequence of a loop over a
    # generator's items, seen by _display_items; an item of a helper's value by a constant key, ``p =
    # p_m[0]``: that component, in results)
    seen: set = set()
    held = set().union(*(_display_items(displays, v.value, seen) for n in names for v in bindings.get(n, ())
                         if isinstance(v, gast.Subscript) and isinstance(v.value, gast.Name) and
                         v.value.id not in results)) | \
        _display_items(displays, gast.Name(id=name, ctx=gast.Load(), annotation=None, type_comment=None), seen)
    held = (held | seen) - names
    for n in sorted(names | held):
        for call, k in results.get(n, ()):
            fn, pair, given = _returning_helper(call, displays, namespace, local, kinds)
            if isinstance(k, tuple):        # ``d = d_mk2[1]`` of ``d_mk2 = mk2(...)``: the value's item 1
                if k[1] != (0 if pair else None):
                    return None
                k, pair = k[0], False
            if pair and k is not None:      # ``(p, p_residuals) = step_fwd(...)``: p is its value
                k = None if k == 0 else -1
            if isinstance(fn, type):
                # an object its class builds of the arguments (``P(W, b)``): linked where they are
                # (``P(W, W * 3)``; was: not linked, the partial derivative for P.W)
                if k is not None or not stores_arguments(fn, _helper_tree) or \
                        _display_linked(displays, gast.List(elts=list(given), ctx=gast.Load()), graph):
                    return None
                continue
            if fn is None and isinstance(call, gast.Call) and _optimizer_update(call, namespace, local):
                continue            # (sgdmupdate's new parameters and states: new arrays, none read by another)
            tree_of = _helper_tree
            called = call.func if isinstance(call, gast.Call) else None
            if isinstance(called, gast.Attribute) and called.attr in ("primal_call_at", "vjp_at") and \
                    len(call.args) >= 2:
                called = call.args[1]       # (rt.primal_call_at(site, step, mask, x, p, vel))
            if fn is None and isinstance(called, gast.Name) and namespace is not None:
                # a def of the function's own (``p, vel, L = step(p, vel)``, its closure values made its first
                # parameters): read from its tree, names it does not bind looked up in the globals (was: not
                # told, refused; red team 51 FR8)
                tree = _nested_def(displays.fdef, called.id)
                if tree is not None:
                    fn = types.FunctionType(_STAND_IN.__code__, namespace)
                    tree_of = functools.partial(_tree_or_nested, fn, tree)
            fresh = fresh_components(fn, tree_of, lambda f: functools.partial(_outside_value, f))
            if fresh is None:
                return None
            part = fresh[k] if k is not None and 0 <= k < len(fresh) and len(fresh) > 1 else \
                fresh[0] if k is None and len(fresh) == 1 else None
            if part is None or part and n in held:
                return None         # (its paths: in the value held, not in the argument's)
            out |= part
    return frozenset(out)


def _STAND_IN():
    """(The code of a stand-in function for a nested def read from its tree: globals only, no closure.)"""


def _tree_or_nested(stand, tree, f):
    return tree if f is stand else _helper_tree(f)


def _nested_def(fdef, name: str):
    """The def named ``name`` nested in ``fdef``, where it is the one binding of that name (no decorator,
    no ``*``/``**``), else None."""
    found = [n for n in walk_nodes(fdef) if isinstance(n, gast.FunctionDef) and n.name == name and n is not fdef]
    stores = [n for n in walk_nodes(fdef) if isinstance(n, gast.Name) and n.id == name and
              not isinstance(n.ctx, gast.Load)]
    if len(found) != 1 or stores or found[0].decorator_list or found[0].args.vararg is not None or \
            found[0].args.kwarg is not None:
        return None
    return found[0]


def _optimizer_update(call, namespace, local) -> bool:
    """Is ``call`` sct's sgdmupdate, adamupdate or rmspropupdate, whose every component is a structure of
    new arrays (``pd + new_v`` per parameter and state; was: not a helper of the user's whose returns sct
    reads, so a step read in place, ``p, vel = sgdmupdate(p, g, vel)``, refused its next call's
    dlgradient with respect to p, red team 51 FR8)?"""
    if namespace is None:
        return False
    fn = _static_value(call.func, namespace, local)
    return getattr(fn, "__name__", None) in ("sgdmupdate", "adamupdate", "rmspropupdate") and \
        module_top(fn) in ("sct", "runtime")


def _returning_helper(call, displays, namespace, local, kinds=None):
    """(the plain function of the user's whose value ``call`` (see _helper_result) is, or the class
    an object is built by, or None; whether ``call`` is its forward function, returning the pair of
    its value and residuals; the arguments given to the class).  A method's: the class's own
    function, where the receiver's kind (``kinds``) fixes its class."""
    if isinstance(call, gast.IfExp):
        call = call.orelse
    if not isinstance(call, gast.Call) or namespace is None:
        return None, False, ()
    func = call.func
    if isinstance(func, gast.Name) and func.id in displays.firsts:
        fn, _, given = _returning_helper(displays.firsts[func.id], displays, namespace, local, kinds)
        return fn, True, given or call.args[1:]        # (fwd, bwd) = rt.vjp_init_at(site, P, mask, new, *args)
    if isinstance(func, gast.Attribute) and func.attr == "vjp_init_at" and len(call.args) >= 4:
        cls = _static_value(call.args[1], namespace, local)
        return (cls if isinstance(cls, type) else None), True, tuple(call.args[4:])
    if isinstance(func, gast.Attribute) and func.attr in ("primal_method_at", "vjp_method_at") and \
            len(call.args) >= 5 and isinstance(call.args[1], gast.Name) and isinstance(call.args[4], gast.Name) and \
            call.args[4].id == call.args[1].id and isinstance(call.args[2], gast.Constant):
        kind = (kinds or {}).get(call.args[1].id)
        if isinstance(kind, tuple) and len(kind) == 3 and kind[0] == "obj" and isinstance(kind[1], type) and \
                isinstance(kind[2], tuple) and all(k != call.args[2].value for k, _ in kind[2]):
            fn = inspect.getattr_static(kind[1], call.args[2].value, None)
            return (fn if type(fn) is types.FunctionType else None), func.attr == "vjp_method_at", ()
        made = displays.bindings.get(call.args[1].id, ())
        cls = _static_value(made[0].args[0], namespace, local) if len(made) == 1 and isinstance(made[0], gast.Call) \
            and isinstance(made[0].func, gast.Attribute) and made[0].func.attr in ("new_object", "user_call") and \
            made[0].args else None
        if isinstance(cls, type) and not _may_set_attribute(cls, call.args[2].value):
            # an object the function makes (``opt = Opt(0.1)``), whose methods set no attribute of that name
            fn = inspect.getattr_static(cls, call.args[2].value, None)
            return (fn if type(fn) is types.FunctionType else None), func.attr == "vjp_method_at", ()
        return None, False, ()
    if isinstance(func, gast.Attribute) and func.attr in ("primal_call_at", "vjp_at") and len(call.args) >= 2:
        fn = _static_value(call.args[1], namespace, local)
        return (fn if type(fn) is types.FunctionType or isinstance(fn, type) else None), func.attr == "vjp_at", \
            tuple(call.args[3:])
    return None, False, ()


def _fields_as_names(st, loop_of: Dict[int, Any]):
    """``b.hs = v`` and ``hs = b.hs`` (a field of a name) read by :func:`_displays` as a name ``b.hs``
    bound to v and read (was: not read, so ``b.add(w); b.add(w * s); gl(b.hs)``, a method building
    a list in a field, was not linked: the partial derivative)."""
    if not (isinstance(st, gast.Assign) and len(st.targets) == 1):
        return st
    field = lambda n: gast.Name(id=f"{n.value.id}.{n.attr}", ctx=gast.Load(), annotation=None,  # noqa: E731
                                type_comment=None) if isinstance(n, gast.Attribute) and \
        isinstance(n.value, gast.Name) else n
    target, value = field(st.targets[0]), field(st.value)
    if target is st.targets[0] and value is st.value:
        return st
    out = gast.Assign(targets=[target], value=value, type_comment=None)
    loop_of[id(out)] = loop_of.get(id(st))
    return out


def _may_set_attribute(cls, name: str) -> bool:
    """May an object of ``cls`` get an attribute ``name`` of its own (``self.step = ...`` in one of its
    class's functions, ``__setattr__``, ``__getattribute__``, slots), or is that not told?"""
    if any(k in vars(c) for c in cls.__mro__[:-1] for k in ("__setattr__", "__getattribute__", "__getattr__")):
        return True
    for c in cls.__mro__[:-1]:
        for f in vars(c).values():
            if isinstance(f, (staticmethod, classmethod)):
                f = f.__func__
            if type(f) is not types.FunctionType:
                continue
            tree = _helper_tree(f)
            if tree is None:
                return True
            if any(isinstance(n, gast.Attribute) and n.attr == name and isinstance(n.ctx, gast.Store) or
                   isinstance(n, gast.Call) and isinstance(n.func, gast.Name) and n.func.id == "setattr"
                   for n in walk_nodes(tree)):
                return True
    return False


class _Displays(dict):
    """:func:`_displays`' map, with ``bindings``: name -> the values bound to it by ``name = value``
    (every binding, in branches and loops too); ``appended``: the names filled in place by a call
    (``hs.append(h)``)."""
    def __init__(self, fdef):
        super().__init__()
        self.fdef = fdef
        self.bindings: Dict[str, list] = {}
        self.appended: set = set()
        self.results: Dict[str, list] = {}  # name -> (call, component) of the user's calls bound to it
        self.firsts: Dict[str, Any] = {}    # name -> the value of ``(name, other) = value``
        self._chains = None
        self._reach: Optional[tuple] = None

    def reach(self, graph: Dict[str, set]) -> "_Reach":
        """``_Reach(graph)``, made once for the graph (not once for each argument of each call)."""
        if self._reach is None or self._reach[0] is not graph:
            self._reach = (graph, _Reach(graph))
        return self._reach[1]

    def statements(self) -> Dict[int, list]:
        """_statement_chains of the function read (made once)."""
        if self._chains is None:
            self._chains = _statement_chains(self.fdef)
        return self._chains


def _displays(fdef) -> "_Displays":
    """name -> what makes its items in ``fdef``: the list, tuple and dict displays bound to it,
    ``dict(k=v, ...)`` of names, and the names stored into it afterwards (``p["b"] = v``,
    ``p.update(b=v)``, ``p.append(v)``; as a list display of them), and the other such name it is
    bound to (``p = p_new`` of a comprehension's dict)."""
    out = _Displays(fdef)
    loop_of: Dict[int, Any] = {}        # id(statement) -> id of the innermost loop holding it
    fresh: Dict[str, set] = {}          # name -> the loops (ids; None: none) that bind it to a display
    todo = [(fdef, None)]
    while todo:
        node, loop = todo.pop()
        for child in gast.iter_child_nodes(node):
            if isinstance(child, gast.stmt):
                loop_of[id(child)] = loop
                if isinstance(child, gast.Assign) and len(child.targets) == 1 and \
                        isinstance(child.targets[0], gast.Name) and isinstance(child.value, (gast.Dict, gast.List)):
                    fresh.setdefault(child.targets[0].id, set()).add(loop)
            todo.append((child, id(child) if isinstance(child, (gast.For, gast.While)) else loop))
    for st in (_fields_as_names(n, loop_of) for n in walk_nodes(fdef)):
        if isinstance(st, gast.Assign) and len(st.targets) == 1 and isinstance(st.targets[0], gast.Tuple) and \
                st.targets[0].elts and isinstance(st.targets[0].elts[0], gast.Name):
            out.firsts[st.targets[0].elts[0].id] = st.value
            for e in st.targets[0].elts:        # (``(h, h_residuals) = cell_fwd(h)``: h computed there)
                if isinstance(e, gast.Name):
                    out.bindings.setdefault(e.id, []).append(st.value)
        if isinstance(st, gast.Assign) and len(st.targets) == 1 and _helper_result(st.value):
            target = st.targets[0]
            if isinstance(target, gast.Name):
                out.results.setdefault(target.id, []).append((st.value, None))
            elif isinstance(target, gast.Tuple):
                for k, e in enumerate(target.elts):
                    if isinstance(e, gast.Name):
                        out.results.setdefault(e.id, []).append((st.value, k))
        if isinstance(st, gast.Assign) and len(st.targets) == 1 and isinstance(st.targets[0], gast.Name):
            out.bindings.setdefault(st.targets[0].id, []).append(st.value)
            value = st.value
            if isinstance(value, gast.Call) and isinstance(value.func, gast.Name) and value.func.id == "dict" and \
                    all(k.arg is not None for k in value.keywords):
                # (``dict(p, b=v)``: p's items, and v; was: p itself an item, so ``q = dict(p)`` read
                # its later rebinding's items as computed from that item)
                value = gast.Dict(keys=[None] * len(value.args) + [gast.Constant(value=0, kind=None)] * len(
                    value.keywords), values=list(value.args) + [k.value for k in value.keywords])
            if isinstance(value, gast.Call) and isinstance(value.func, gast.Attribute) and \
                    value.func.attr in ("setitem", "setitem_owned", "dict_merged") and \
                    isinstance(value.func.value, gast.Name):
                # the generated code's functional writes: ``p_1 = rt.setitem(p, "b", v)``,
                # ``p = rt.dict_merged(a, b)`` (of ``{**a, ...}``, ``p.update(...)``): the items of
                # the dicts given, and the value set
                merged = [a for a in value.args[:2 if value.func.attr == "dict_merged" else 1]]
                set_value = value.args[2:3] if value.func.attr != "dict_merged" else []
                if any(isinstance(a, gast.Name) and a.id == st.targets[0].id for a in merged) and \
                        loop_of.get(id(st)) not in fresh.get(st.targets[0].id, ()):
                    # (``hs = rt.setitem(hs, t, v)`` in a loop: its earlier items stay, ``hs[t] =
                    # cell(hs[t - 1])`` reads them; not where the loop makes it anew, ``q = {}``
                    # then ``q["W"] = q_old_W - ...``, whose reads are of the dict it had before)
                    out.appended.add(st.targets[0].id)
                value = gast.Dict(keys=[None] * len(merged) + [gast.Constant(value=0, kind=None)] * len(set_value),
                                  values=merged + set_value)
            if isinstance(value, gast.Call) and isinstance(value.func, gast.Attribute) and \
                    isinstance(value.func.value, gast.Name) and value.func.value.id.startswith("rt") and \
                    value.func.attr in ("inserted", "extended") and value.args and \
                    isinstance(value.args[0], gast.Name):
                # ``hs = rt.inserted(hs, 0, h)``, ``rt.extended(hs, [h])``: hs's items, and those given
                if value.args[0].id == st.targets[0].id:
                    out.appended.add(st.targets[0].id)
                given = list(value.args[2:] if value.func.attr == "inserted" else [])
                value = gast.Dict(keys=[None] * (1 + (value.func.attr == "extended")) +
                                  [gast.Constant(value=0, kind=None)] * len(given),
                                  values=[value.args[0]] + list(value.args[1:2] if value.func.attr == "extended"
                                                                else []) + given)
            if isinstance(value, gast.Subscript) and isinstance(value.slice, gast.Slice) and \
                    isinstance(value.value, gast.Name):
                # ``hs[1:]``: items of hs (of a list or tuple; an array's slice has no displays)
                value = gast.Dict(keys=[None], values=[value.value])
            copied = _copied_from(value)
            if copied:
                # ``list(hs)``, ``copy.copy(d)``, ``d.copy()``, ``rt.as_sequence(hs)`` (of a for loop, zip,
                # map), ``rt.extended(hs, t)`` (``hs.extend(t)``): the items of those names
                # (was: no display, so not linked: the partial derivative for ``gl(list(hs))``)
                value = gast.Dict(keys=[None] * len(copied), values=copied)
            if isinstance(value, gast.BinOp) and isinstance(value.op, gast.Add) and all(
                    isinstance(o, (gast.Name, gast.List, gast.Tuple)) for o in (value.left, value.right)):
                # ``hs = hs + [h]`` (the normalizer's ``hs.append(h)``), ``t1 + t2``: the items of both
                parts = [value.left, value.right]
                merged = [o for o in parts if isinstance(o, gast.Name)]
                elts = [e for o in parts if not isinstance(o, gast.Name) for e in o.elts]
                if any(o.id == st.targets[0].id for o in merged):
                    out.appended.add(st.targets[0].id)
                value = gast.Dict(keys=[None] * len(merged) + [gast.Constant(value=0, kind=None)] * len(elts),
                                  values=merged + elts)
            if isinstance(value, (gast.List, gast.Tuple, gast.Dict)):
                out.setdefault(st.targets[0].id, []).append(value)
        if isinstance(st, gast.Assign) and len(st.targets) == 1 and isinstance(st.targets[0], gast.Subscript) and \
                isinstance(st.targets[0].value, gast.Name) and isinstance(st.value, gast.Name):
            out.setdefault(st.targets[0].value.id, []).append(gast.List(elts=[st.value], ctx=gast.Load()))
        if isinstance(st, gast.Call) and isinstance(st.func, gast.Attribute) and isinstance(st.func.value, gast.Name) \
                and st.func.attr in ("update", "append", "setdefault", "insert", "extend"):
            stored = [a for a in st.args if isinstance(a, (gast.Name, gast.Dict, gast.List, gast.Tuple))] + \
                [k.value for k in st.keywords if k.arg is not None]
            if stored:
                out.setdefault(st.func.value.id, []).append(gast.List(elts=stored, ctx=gast.Load()))
                out.appended.add(st.func.value.id)
    for name, values in out.bindings.items():
        for v in values:
            if isinstance(v, gast.Subscript) and isinstance(v.value, gast.Name) and isinstance(v.slice, gast.Constant) \
                    and type(v.slice.value) is int:
                for call, k in list(out.results.get(v.value.id, ())):
                    # ``d = d_mk2[0]`` (the normalizer's unpacking of ``d, z = mk2(...)``): item 0 of the value
                    out.results.setdefault(name, []).append((call, (v.slice.value, k)))
            if isinstance(v, gast.Subscript) and isinstance(v.value, gast.Name) and out.bindings.get(v.value.id) and \
                    all(_copied_from(s) and isinstance(s.func, gast.Attribute) and s.func.attr == "as_sequence"
                        for s in out.bindings[v.value.id]):
                # ``item = seq[k]`` of the sequence a for loop (zip, map, a comprehension) walks: one of
                # its items (was: none, so ``[h for h in hs]`` of linked states was not linked)
                out.setdefault(name, []).append(gast.Dict(keys=[None], values=[v.value]))
    _bound_names(out)
    for name, values in out.bindings.items():
        for v in values:
            if isinstance(v, gast.Subscript) and isinstance(v.value, gast.Name) and v.value.id in out and \
                    not isinstance(v.slice, gast.Slice):
                # ``d = outer["d"]`` of ``outer = {"d": {"a": w}}``, written into (``outer["d"]["b"] = v``):
                # the items of the displays outer holds (was: none, the partial derivative)
                inner = sorted(m for m in _display_items(out, v.value) if m in out and m != name)
                if inner:
                    out.setdefault(name, []).append(gast.Dict(keys=[None] * len(inner), values=[
                        gast.Name(id=m, ctx=gast.Load(), annotation=None, type_comment=None) for m in inner]))
    _bound_names(out)
    return out


def _bound_names(out) -> None:
    """:func:`_displays`' names bound to names with displays: theirs (in any order: ``a = item``,
    ``item = seq[k]``)."""
    changed = True
    while changed:
        changed = False
        for name, values in out.bindings.items():
            for v in values:
                if isinstance(v, gast.Name) and v.id in out and name != v.id and v not in out.get(name, ()):
                    out.setdefault(name, []).append(v)      # (its items: _display_items reads v's)
                    changed = True


def _display_items(displays, node, seen: Optional[set] = None) -> set:
    """The names a list, tuple or dict display holds as its items (nested displays too), where
    ``node`` is one or a name bound to one (``displays``: :func:`_displays`); each name's
    displays read once (``seen``)."""
    if seen is None:
        seen = set()
    out: set = set()
    if isinstance(node, (gast.List, gast.Tuple)):
        items = list(node.elts)
    elif isinstance(node, gast.Dict):
        items = [v for k, v in zip(node.keys, node.values) if k is not None]
        for k, v in zip(node.keys, node.values):
            if k is None:       # ``{**base, "b": v}``, rt.dict_merged(base, ...): base's items
                out |= _display_items(displays, v, seen)
    elif isinstance(node, gast.Name):
        if node.id not in seen:
            seen.add(node.id)
            for value in displays.get(node.id, ()):
                out |= _display_items(displays, value, seen)
        return out
    else:
        return out
    for e in items:
        out |= _item_names(displays, e, seen)
    return out


def _item_names(displays, e, seen: set) -> set:
    """An item of a display: its name (and what it holds as a display itself), or a nested display's."""
    if isinstance(e, gast.Name):
        return {e.id} | _display_items(displays, e, seen)
    if isinstance(e, (gast.List, gast.Tuple, gast.Dict)):
        return _display_items(displays, e, seen)
    return set()


def _display_linked(displays, arg, graph, held=frozenset(), kinds=None) -> bool:
    """Does the argument ``arg`` (a display, or a name bound to one) hold an item computed from
    another item it holds (``{"a": w, "b": w * 3}``, ``[W, W.T]``)?  A helper taking dlgradient with
    respect to it differentiates each item as a value of its own (sct/helper_sites.py).  An item's
    name stands for every value bound to it: one bound to another name in some branch (``a = w``)
    is that value too, and one stored again and again (``hs.append(h)`` in a loop) holds each value
    it had, so one computed from another (``h = np.tanh(h)``, ``hs.append(f(hs[-1]))``) links them
    (was: not linked, the partial derivatives of an RNN's states given to a helper).  ``held``: the
    names whose values the argument may hold (:func:`_holds_graph`), whatever built it (``hs +=
    [h]``, ``rt.inserted(hs, 0, h)``, ``st["hs"].append(h)``, ``tuple(hs)``, ``hs[::-1]``): its
    arrays (``kinds``, or how they are computed) count as items for the latter."""
    own: set = set()
    items = _display_items(displays, arg, own)
    bindings = displays.bindings
    same = {a: _same_values(bindings, a) for a in items}
    if any(_computed_from(graph, {b}, same[a]) and (not _computed_from(graph, {a}, {b}) or
                                                    _computed_where_made(displays, arg, b, same[a]))
           for a in items for b in items if a != b):
        # (read both ways by name: linked where b is computed from a's value where the display is
        # made, ``hd({"w": w, "v": v})`` in a loop ending ``w = w - ...; v = w * 3``; was: read as
        # loop-carried state, the partial derivative)
        return True
    values = {n for n in held if n not in items and _array_like(n, bindings, kinds or {})}
    # what the argument's items are read from (``[hs[1], hs[2]]``: hs) is its own, as a display it is
    # built of; another container it may hold is passed by (an optimizer's state, ``(p, m, v) =
    # adam(p, g, m, v)``: its own loop's values, not the argument's)
    sources = {root_name(v) for a in [getattr(arg, "id", None), *items] for v in bindings.get(a, ())
               if isinstance(v, (gast.Subscript, gast.Attribute))}
    own |= sources
    containers = set(held) - values - set(items) - own
    items = set(items) | values
    same.update((a, _same_values(bindings, a)) for a in values)
    # Not followed: a name of the argument's own rebound to a new one (``p = p_new`` of a
    # comprehension's dict in a loop reads the earlier dict's items; one filled in place, ``hs``, is
    # followed), a list filled in place that is not the argument (the generated code's tape, whose
    # reads would join every value to every other), the runtime's module (``rt.check(v)``).
    appended = displays.appended
    if not values and not (own & appended):
        # a display made anew where it is bound, filled by no call in place: it holds the values its
        # items have there, not each value they had (``g = grad({"W": W, "b": b})`` in a loop rebinding
        # W and b: was read as an RNN's states, refused)
        return False
    own -= set(items)
    avoid = (own - appended) | (appended - own) | containers | \
        {k for k in graph if k.startswith("rt") and k not in bindings}
    kept = full = None
    for a in items:
        reads = {m for n in same[a] for v in bindings.get(n, ()) if not isinstance(v, gast.Name)
                 for m in _arg_names(v)} - avoid
        if not reads:
            continue
        if full is None:
            full = displays.reach(graph)
        # not computed from it in the whole graph: not in the graph less what ``avoid``'s names read
        # either (was: a walk of the graph for each item, at each call of a helper with an array:
        # cubic in the function's length); else that walk
        if not full.computed_from(reads, same[a]):
            continue
        if kept is None:
            kept = {k: v for k, v in graph.items() if k not in avoid}
        if _computed_from(kept, reads, same[a]):
            return True
    return False


def _computed_where_made(displays, arg, b: str, xi: set) -> bool:
    """Is item ``b`` of the display ``arg`` (or of a display bound to the name ``arg``) computed from
    the value the names ``xi`` have there (:func:`_computed_just_before`)?"""
    sites = [arg] + ([v for v in displays.bindings.get(arg.id, ()) if isinstance(v, (gast.Dict, gast.List, gast.Tuple))]
                     if isinstance(arg, gast.Name) else [])
    return any(_computed_just_before(displays.statements(), site, {b}, xi) for site in sites)


_CONTAINER_OPS = frozenset(("setitem", "setitem_owned", "dict_merged", "inserted", "extended", "as_sequence",
                            "listed", "items", "values", "simple_namespace", "new_object"))


def _array_like(name: str, bindings, kinds) -> bool:
    """Does ``name`` hold an array or number: its kind says so, or (no kind known) one of its
    bindings computes one (numpy's arithmetic, a function of a module; not a display, a list's
    ``+``, an item or slice of something, the runtime's container operations)?"""
    kind = kinds.get(name)
    if isinstance(kind, tuple) and kind:
        return kind[0] in ("dl", "nd", "num")
    values = bindings.get(name, ())
    if any(isinstance(v, (gast.Dict, gast.List, gast.Tuple, gast.Set, gast.DictComp, gast.ListComp)) or
           isinstance(v, gast.Call) and isinstance(v.func, gast.Attribute) and isinstance(v.func.value, gast.Name)
           and v.func.value.id.startswith("rt") and v.func.attr in _CONTAINER_OPS or
           isinstance(v, gast.Call) and isinstance(v.func, gast.Name) and v.func.id in ("dict", "list", "tuple")
           for v in values):
        return False            # (a list, tuple or dict made here)
    for v in values:
        if _helper_result(v):
            return True         # (a helper's value: an array, or a structure read as one, never fewer links)
        if isinstance(v, gast.UnaryOp) or isinstance(v, gast.BinOp) and not any(
                isinstance(o, (gast.List, gast.Tuple)) or isinstance(o, gast.Name) and not _array_like(
                    o.id, {}, kinds) and any(isinstance(b, (gast.List, gast.Tuple)) for b in bindings.get(o.id, ()))
                for o in (v.left, v.right)):
            return True
        if isinstance(v, gast.Call) and isinstance(v.func, gast.Attribute) and isinstance(v.func.value, gast.Name) \
                and not (v.func.value.id.startswith("rt") and v.func.attr in _CONTAINER_OPS) and \
                v.func.value.id in ("np", "numpy", "math", "rt"):
            return True
    return False


def _repeated(displays, node, kinds, seen: set) -> bool:
    """Does a display the argument is (or a name bound to one, nested ones too) hold one name at two
    places (``[W, W]``, ``{"a": w, "b": w}``, tied weights), a name not a plain number?  Both items
    are one traced value, and MATLAB's trace gives each the derivative through both (was: not
    linked, so a helper's dlgradient with respect to the structure gave each item's partial: w
    where the same code in the function dlfeval runs gives 2w)."""
    if isinstance(node, gast.Name):
        if node.id in seen:
            return False
        seen.add(node.id)
        return any(_repeated(displays, v, kinds, seen) for v in displays.get(node.id, ()))
    if isinstance(node, (gast.List, gast.Tuple)):
        elts = list(node.elts)
    elif isinstance(node, gast.Dict):
        elts = [v for k, v in zip(node.keys, node.values) if k is not None]
    else:
        return False
    names = [e.id for e in elts if isinstance(e, gast.Name) and not (
        isinstance(kinds.get(e.id), tuple) and kinds.get(e.id)[:1] in (("num",), ("const",)))]
    return len(names) != len(set(names)) or any(_repeated(displays, e, kinds, seen) for e in elts)


_COPIES = frozenset(("list", "tuple", "dict", "sorted", "reversed", "set", "frozenset"))
# the runtime's functions of lists, tuples and dicts the normalizer writes (``hs.extend(t)``, ``hs +=
# t``, ``d | e``, ``d |= e``, ``list(t)``, ``nt._replace(...)``, a helper's ``hs.append(v)`` inlined):
# their values
# hold the items of what they are given
_RT_CONTAINERS = frozenset(("as_sequence", "extended", "dict_or", "inplace_result", "listed", "tupled",
                            "namedtuple_replaced", "dataclass_replaced", "into_temporary"))


def _copied_from(value) -> list:
    """The names whose items ``value`` holds as they are (a copy of a list, tuple or dict, the
    sequence a loop walks, the operands of the runtime's list and dict functions: more than it
    holds, never less), or none."""
    if not isinstance(value, gast.Call):
        return []
    func, names = value.func, [a for a in value.args if isinstance(a, gast.Name)]
    if isinstance(func, gast.Name) and func.id in _COPIES and len(value.args) == 1:
        return names
    if isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name):
        if func.value.id == "copy" and func.attr in ("copy", "deepcopy"):
            return names[:1]
        if func.attr == "copy" and not value.args:
            return [func.value]
        if func.value.id.startswith("rt") and func.attr in _RT_CONTAINERS:
            return names + [a for a in value.args if isinstance(a, (gast.List, gast.Tuple, gast.Dict))]
    return []


_HELPER_CALLS = ("primal_call_at", "primal_method_at", "vjp_at", "vjp_method_at", "vjp_init_at")
_NOT_HELPERS = frozenset(("len", "range", "int", "float", "bool", "str", "abs", "min", "max", "sum", "isinstance",
                          "enumerate", "zip", "dict", "list", "tuple", "sorted", "reversed", "set", "frozenset"))


def _helper_result(value) -> bool:
    """Is ``value`` a call of a function of the user's as the generated code makes it (its site,
    ``rt.primal_call_at(site, mk, ...)``; its compiled entry or forward function, called by name;
    the guarded pair of both)?  What its value holds, and how its items were computed from one
    another, are the callee's."""
    if isinstance(value, gast.IfExp):
        return _helper_result(value.body) or _helper_result(value.orelse)
    if not isinstance(value, gast.Call):
        return False
    func = value.func
    if isinstance(func, gast.Attribute):
        return isinstance(func.value, gast.Name) and func.value.id.startswith("rt") and func.attr in _HELPER_CALLS
    return isinstance(func, gast.Name) and func.id not in _NOT_HELPERS


def _same_values(bindings, name: str) -> set:
    """``name`` and the names it is bound to by ``name = other`` (in any branch), through such names."""
    out, todo = {name}, [name]
    while todo:
        for v in bindings.get(todo.pop(), ()):
            if isinstance(v, gast.Name) and v.id not in out:
                out.add(v.id)
                todo.append(v.id)
    return out


_FRESH_MODULES = frozenset(("np", "numpy", "math", "cmath"))
# the operands of ``a + b`` / ``a | b`` that may be a list, tuple or dict whose items the value holds
# (``{"w": w} | {"z": x}``, ``dict(w=w) | dict(z=x)``, ``q | {k: v ...}``: were read as arithmetic
# holding nothing, so a helper returning them was summarised as not holding x)
_MAY_BE_CONTAINER = (gast.List, gast.Tuple, gast.Set, gast.Dict, gast.ListComp, gast.SetComp, gast.DictComp,
                     gast.Name, gast.Subscript, gast.Attribute, gast.Call, gast.IfExp, gast.BoolOp,
                     gast.BinOp, gast.NamedExpr, gast.Starred)
_VALUE_KINDS = frozenset(("dl", "nd", "num"))


def _a_value(name: Optional[str], kinds: Dict[str, Any]) -> bool:
    kind = kinds.get(name) if name is not None else None
    return isinstance(kind, tuple) and bool(kind) and kind[0] in _VALUE_KINDS


def _holding_names(node, kinds: Dict[str, Any], local: Optional[set] = None, calls=None) -> set:
    """The names whose values (or what they hold) a value may hold as they are: a list, tuple or
    dict of names, an item or attribute of a structure, the value of a call of the user's code (a
    function, a class, a namedtuple: it may keep its arguments), a conditional of them.  An
    arithmetic value, numpy's or math's result, a literal, an item of an array hold nothing.
    ``calls(node, kinds, local)``: the names a call's value may hold where the caller knows them
    better (a helper whose returns are summarised: :func:`returns_holding`), or None."""
    if node is None or isinstance(node, gast.Constant):
        return set()
    if isinstance(node, gast.Name):
        return {node.id}
    if isinstance(node, (gast.List, gast.Tuple, gast.Set)):
        return set().union(*(_holding_names(e, kinds, local, calls) for e in node.elts))
    if isinstance(node, gast.Dict):
        return set().union(*(_holding_names(v, kinds, local, calls) for v in node.values))
    if isinstance(node, gast.Starred):
        return _holding_names(node.value, kinds, local, calls)
    if isinstance(node, (gast.Subscript, gast.Attribute)):
        if _a_value(root_name(node), kinds):
            return set()            # an item of an array, an attribute of a number: a new value
        return _holding_names(node.value, kinds, local, calls)
    if isinstance(node, gast.IfExp):
        return _holding_names(node.body, kinds, local, calls) | _holding_names(node.orelse, kinds, local, calls)
    if isinstance(node, gast.BoolOp):
        return set().union(*(_holding_names(v, kinds, local, calls) for v in node.values))
    if isinstance(node, (gast.UnaryOp, gast.Compare)):
        return set()
    if isinstance(node, gast.BinOp):       # ``[x] + t`` of lists and tuples holds their items
        sides = [o for o in (node.left, node.right) if not isinstance(o, gast.Constant)]
        # (``{"w": w} | {"e": x}``, ``dict(w=w) | {"e": x}``: a dict merged holds both's values; was:
        # two literals or a call held nothing, so a step returning one was summarised as holding
        # nothing of x, a partial derivative at the next call)
        if all(isinstance(o, gast.Name) and _a_value(o.id, kinds) for o in sides) or \
                not isinstance(node.op, gast.BitOr) and not any(isinstance(o, _MAY_BE_CONTAINER) for o in sides):
            return set()
        if any(isinstance(o, gast.Name) and _array_leaf(kinds.get(o.id)) is not None for o in sides):
            # a float array's arithmetic with anything is an array (``w * s``, s of a kind not known: was read
            # as a list repeated, holding w, so ``g2(w, w * s)`` linked both ways, read as loop-carried
            # state, and a helper's dlgradient with respect to both gave the partial derivative)
            return set()
        return set().union(*(_holding_names(o, kinds, local, calls) for o in sides))
    if isinstance(node, gast.Call):
        if calls is not None:
            found = calls(node, kinds, local)
            if found is not None:
                return found
        func = node.func
        if isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name) and \
                func.value.id in _FRESH_MODULES:
            return set()
        out = set()
        for a in list(node.args) + [k.value for k in node.keywords]:
            out |= _holding_names(a, kinds, local, calls)
        if not isinstance(func, (gast.Name, gast.Attribute)) or \
                isinstance(func, gast.Name) and (local is None or func.id in local):
            # a local callable's value may be what it holds: ``f = partial(ident, x); f()``,
            # ``partial(ident, x)()`` (was: held nothing)
            out |= _holding_names(func, kinds, local, calls)
        if isinstance(func, gast.Attribute) and (local is None or root_name(func.value) in local or
                                                 root_name(func.value) is None):
            out |= _holding_names(func.value, kinds, local, calls)     # a method's value may be its receiver's part
            #       (not a module's: ``rt.op(...)``, whose functions hold nothing; a display's or a call's:
            #       ``{"z": x}.get("z")``, ``[x].pop()``, ``dict(z=x).get("z")``, were read as holding nothing)
        return out
    return {n.id for n in walk_nodes(node) if isinstance(n, gast.Name)}


def _stored_roots(target) -> List[str]:
    if isinstance(target, (gast.Tuple, gast.List)):
        return [r for e in target.elts for r in _stored_roots(e)]
    if isinstance(target, gast.Starred):
        return _stored_roots(target.value)
    root = root_name(target)
    return [root] if root is not None else []


def _holds_graph(fdef, kinds: Optional[Dict[str, Any]] = None, namespace: Optional[Dict[str, Any]] = None,
                 calls=None, effects=None, methods=True) -> Dict[str, set]:
    """name -> the names whose values it may hold as they are (``t = {"w": x}``, ``u = x``, ``m.x = x``,
    ``xs.append(x)``, ``m = M(x)``, ``(p, p_residuals) = P_fwd(x)``, ``for v in xs``: by
    :func:`_holding_names`; flow-insensitive, more than the values hold, never less).  Was: names,
    lists, tuples and dicts of names bound to a name only, so an object given its field
    (``m.x = x``, ``M(x)``, a namedtuple, a dict comprehension) held nothing, and a helper's method
    taking dlgradient of ``self.x`` called as ``m.g(x * 2)`` got the partial derivative.
    ``namespace`` (the generated globals): the calls of helpers read there hold what the helpers'
    returns may hold (:class:`_KnownReturns`; ``methods``: and methods' calls, resolved by the
    receiver's class); ``calls``: see :func:`_holding_names`."""
    kinds = kinds or {}
    holds: Dict[str, set] = {}
    local = {a.id for a in walk_nodes(fdef.args) if isinstance(a, gast.Name)} | \
        {n.id for n in walk_nodes(fdef) if isinstance(n, gast.Name) and not isinstance(n.ctx, gast.Load)}
    if namespace is not None:
        calls = _KnownReturns(fdef, namespace, local, kinds if methods else None)

    writes = []         # (target, names) stored into an object: ``r[k] = x``, ``r.append(x)``, ``r += [x]``
    same: Dict[str, set] = {}       # name -> the names whose objects it may be itself (``r = q``)
    part: Dict[str, set] = {}       # name -> the names whose held objects it may be (``r = q[0]``)

    def add(roots, names, write=None):
        for root in roots:
            inner = names - {root}
            if inner:
                holds.setdefault(root, set()).update(inner)
        if write is not None and names:
            writes.append((write, names))

    def bind(target, value, unpacked=False):
        if isinstance(target, gast.Name):
            if unpacked:
                part.setdefault(target.id, set()).update(_holding_names(value, kinds, local, calls))
            else:
                is_, in_ = _may_be(value, kinds, local, calls)
                same.setdefault(target.id, set()).update(is_)
                part.setdefault(target.id, set()).update(in_)
        elif isinstance(target, (gast.Tuple, gast.List)):
            if isinstance(value, (gast.Tuple, gast.List)) and len(value.elts) == len(target.elts) and \
                    not any(isinstance(e, gast.Starred) for e in list(value.elts) + list(target.elts)):
                for t, v in zip(target.elts, value.elts):
                    bind(t, v)
            else:
                for t in target.elts:
                    bind(t.value if isinstance(t, gast.Starred) else t, value, unpacked=True)

    for node in walk_nodes(fdef):
        if isinstance(node, gast.Assign):
            split = calls.pair(node, kinds, local) if isinstance(calls, _KnownReturns) else None
            if split is not None:
                for roots, names in split:
                    add(roots, names)
                continue
            names = _holding_names(node.value, kinds, local, calls)
            chained = [t.id for t in node.targets if isinstance(t, gast.Name)] if len(node.targets) > 1 else []
            for name in chained:
                # ``q = r = {...}``: one object under both names (was: r["z"] = x left q holding nothing)
                same.setdefault(name, set()).update(set(chained) - {name})
            for target in node.targets:
                bind(target, node.value)
                if names:
                    add(_stored_roots(target), names, write=_written_into(target))
        elif isinstance(node, (gast.AugAssign, gast.AnnAssign)) and node.value is not None:
            target = node.target
            add(_stored_roots(target), _holding_names(node.value, kinds, local, calls),
                write=(target if isinstance(target, gast.Name) else gast.Attribute(target, "_", gast.Store()))
                if isinstance(node, gast.AugAssign) else _written_into(target))
            if isinstance(node, gast.AnnAssign):
                bind(target, node.value)
        elif isinstance(node, gast.For):
            add(_stored_roots(node.target), _holding_names(node.iter, kinds, local, calls))
            bind(node.target, node.iter, unpacked=True)
        elif isinstance(node, gast.Call):
            func, values = node.func, node.args
            if effects is not None and effects(node):
                # (a call that may store its arguments into one another: ``put(q, x)`` of a helper
                # writing ``d["z"] = v``, ``operator.setitem(q, "z", x)``; was: q held nothing of x)
                given = list(values) + [k.value for k in node.keywords] + \
                    ([func.value] if isinstance(func, gast.Attribute) else [])
                held_by = [_holding_names(v, kinds, local, calls) for v in given]
                for k, v in enumerate(given):
                    root = root_name(v.value if isinstance(v, gast.Starred) else v)
                    others = set().union(set(), *(h for m, h in enumerate(held_by) if m != k))
                    if root in local and others:
                        add([root], others, write=gast.Attribute(v, "_", gast.Store()))
            if isinstance(func, gast.Attribute):        # ``xs.append(x)``, ``d.update(w=x)``
                root = root_name(func.value)
            elif isinstance(func, gast.Name) and func.id == "setattr" and len(values) == 3:
                root, values, obj = root_name(values[0]), values[2:], gast.Attribute(values[0], "_", gast.Store())
            else:
                continue
            if root is None or root not in local:        # (a module's function: ``rt.op(x)``)
                continue
            names = set()
            for value in list(values) + [k.value for k in node.keywords]:
                names |= _holding_names(value, kinds, local, calls)
            add([root], names, write=gast.Attribute(func.value, "_", gast.Store()) if isinstance(func, gast.Attribute)
                else obj)
    # a write into an object is one into every name's that may be that object (``r = q; r["z"] = x;
    # return q``: q holds x; was: only r did) or, written deeper (``r[0]["z"] = x``), a part of it
    changed = bool(writes)
    while changed:
        changed = False
        for target, names in writes:
            for other in _written_objects(target, same, part, holds):
                if not (names - {other}) <= holds.get(other, set()):
                    holds.setdefault(other, set()).update(names - {other})
                    changed = True
    return holds


def _may_be(node, kinds, local, calls) -> Tuple[set, set]:
    """The names whose objects the value of ``node`` may be itself, and those whose held objects
    (items, attributes, what a call may return of them) it may be; a new container is neither."""
    if isinstance(node, gast.Name):
        return {node.id}, set()
    if isinstance(node, gast.Starred):
        return _may_be(node.value, kinds, local, calls)
    if isinstance(node, (gast.IfExp, gast.BoolOp)):
        is_, in_ = set(), set()
        for v in ([node.body, node.orelse] if isinstance(node, gast.IfExp) else node.values):
            a, b = _may_be(v, kinds, local, calls)
            is_ |= a
            in_ |= b
        return is_, in_
    if isinstance(node, gast.Call) and isinstance(node.func, gast.Name) and node.func.id in _COPIES and \
            (local is None or node.func.id not in local):
        return set(), set()         # ``q2 = dict(q)``: a new container (its items are q's: held)
    if isinstance(node, (gast.Subscript, gast.Attribute, gast.Call)):
        return set(), _holding_names(node, kinds, local, calls)
    return set(), set()


_COPIES = frozenset(("dict", "list", "set", "frozenset", "tuple", "sorted"))


def _written_objects(target, same, part, holds) -> set:
    """The names whose objects (or what they hold) a write into ``target`` may change."""
    deep = False
    while isinstance(target, (gast.Subscript, gast.Attribute, gast.Starred)):
        deep = deep or isinstance(target.value, (gast.Subscript, gast.Attribute))
        target = target.value
    if isinstance(target, (gast.Tuple, gast.List)):
        return set().union(set(), *(_written_objects(e, same, part, holds) for e in target.elts
                                    if _written_into(e) is not None))
    if not isinstance(target, gast.Name):
        return set()
    seen, todo = {target.id}, [target.id]
    while todo:
        name = todo.pop()
        found = set(same.get(name, ()))
        for whole in part.get(name, ()):
            found |= _held(holds, {whole})
        for other in found - seen:
            seen.add(other)
            todo.append(other)
    if deep:
        seen = _held(holds, seen)
    return seen


def _written_into(target):
    """``target`` (of an assignment) where it is an item or attribute of an object (not a name bound
    anew), else None."""
    if isinstance(target, (gast.Subscript, gast.Attribute)):
        return target
    if isinstance(target, (gast.Tuple, gast.List)) and any(_written_into(e) is not None for e in target.elts):
        return target
    if isinstance(target, gast.Starred):
        return _written_into(target.value)
    return None


_UNSUMMARISED = tuple(getattr(gast, name) for name in (
    "FunctionDef", "AsyncFunctionDef", "Lambda", "ClassDef", "Global", "Nonlocal", "Yield", "YieldFrom",
    "Await", "NamedExpr", "With", "AsyncWith", "ExceptHandler", "Match", "Import", "ImportFrom")
    if hasattr(gast, name))
_DYNAMIC_NAMES = frozenset(("exec", "eval", "locals", "vars", "globals", "__import__"))
_ATOMIC = (int, float, complex, bool, str, bytes, type(None), types.ModuleType, type,
           types.BuiltinFunctionType, np.ufunc, np.generic)
_TREES: Dict[Any, Any] = {}         # code -> the helper's gast FunctionDef (False: none)


def _helper_tree(fn):
    """The gast tree of a plain function of the user's (a def, not generated, not wrapped by sct),
    or None."""
    if type(fn) is not types.FunctionType or getattr(fn, "__sct_generated__", False) or \
            any(hasattr(fn, a) for a in ("__sct_closure__", "__sct_positional_of__", "__sct_items_tree__")) or \
            fn.__code__.co_name == "<lambda>" or fn.__code__.co_flags & (inspect.CO_GENERATOR |
                                                                      inspect.CO_COROUTINE |
                                                                      inspect.CO_ASYNC_GENERATOR):
        return None
    code = fn.__code__
    found = _TREES.get(code)
    if found is None:
        try:
            found = _function_ast(fn)[0]
        except Exception:       # noqa: BLE001  (no summary: the call holds all its arguments)
            found = False
        if len(_TREES) > 512:
            _TREES.clear()
        _TREES[code] = found
    return found or None


def _outside_value(fn, node):
    """What a name (or attributes of one) that ``fn`` does not bind refers to: its closure cell, its
    global, a builtin; _MISSING where not known."""
    if isinstance(node, gast.Attribute):
        base = _outside_value(fn, node.value)
        return getattr(base, node.attr, _MISSING) if isinstance(base, types.ModuleType) else _MISSING
    if not isinstance(node, gast.Name):
        return _MISSING
    code = fn.__code__
    if node.id in code.co_freevars:
        try:
            return fn.__closure__[code.co_freevars.index(node.id)].cell_contents
        except (ValueError, TypeError, IndexError):
            return _MISSING
    if node.id in fn.__globals__:
        return fn.__globals__[node.id]
    builtins = fn.__globals__.get("__builtins__")
    builtins = vars(builtins) if isinstance(builtins, types.ModuleType) else builtins
    return builtins.get(node.id, _MISSING) if isinstance(builtins, dict) else _MISSING


def returns_holding(fn, tree=None) -> Optional[frozenset]:
    """The names of ``fn``'s parameters whose values (or what they hold) the value ``fn``
    returns may hold as they are, read off ``fn``'s own source by :func:`_holds_graph` (more than
    the value holds, never less); None where that cannot be told: a parameter with ``*`` or
    ``**``, a nested def, lambda or class, a generator, ``global``/``nonlocal``, a
    binding the graph does not follow (``with ... as``, ``except ... as``, ``:=``, ``match``,
    ``import``), ``exec``/``eval``/``locals()``, or a value returned that may hold an outside
    object other than a number, text, a module, a class or a function without a closure.  A
    call of ``dlgradient`` (and the other derivative functions) holds nothing: its value is a
    derivative, a new traced value.  (``p = step(p, x)`` with ``return {k: p[k] - lr * g[k] ...}``
    holds ``p``, not ``x``: was taken to hold every argument, so the loop's second call, passing
    ``x`` beside ``p``, was refused as passing a value computed from ``p``.)  ``tree``: the def read
    instead of ``fn``'s own (a def nested in ``fn``, its closure values made its first parameters by
    normalizing: ``fn`` then answers what the names it does not bind refer to)."""
    fdef = _helper_tree(fn) if tree is None else tree
    if fdef is None:
        return None
    args = fdef.args
    if args.vararg is not None or args.kwarg is not None:
        return None
    every = list(args.posonlyargs) + list(args.args) + list(args.kwonlyargs)
    params = [a.id for a in every if isinstance(a, gast.Name)]
    if len(params) != len(every):
        return None
    body = [n for stmt in fdef.body for n in walk_nodes(stmt)]
    derivatives = tuple(getattr(hooks.API, "SITE_FUNCTIONS", ()))
    local = set(params) | {n.id for n in body if isinstance(n, gast.Name) and not isinstance(n.ctx, gast.Load)}
    functions = _local_functions(fn, body, local, derivatives)
    if functions is None or set(functions) & set(params):
        # (a parameter the def or lambda rebinds: a call before it calls what was passed, not the
        # function defined; was: read as the def's returns, a partial derivative at the next call)
        return None
    defined = {id(f) for f in functions.values()}
    local |= set(functions)
    for node in body:
        if isinstance(node, _UNSUMMARISED) and id(node) not in defined and \
                not (isinstance(node, gast.Lambda) and _effect_free(fn, node, local, derivatives)) or \
                isinstance(node, gast.Name) and node.id in _DYNAMIC_NAMES:
            return None
    bindings = _local_bindings(body, functions)
    if bindings is None:
        return None

    def calls(node, kinds, local):
        func = node.func
        if isinstance(func, gast.Name) and func.id in functions:      # a function defined here: what
            f = functions[func.id]                                    # it returns (its parameters bound
            values = [f.body] if isinstance(f, gast.Lambda) else \
                [n.value for st in f.body for n in walk_no_defs(st) if isinstance(n, gast.Return) and n.value]
            return set().union(set(), *(_holding_names(v, kinds, local, calls) for v in values))  # below)
        if isinstance(func, (gast.Name, gast.Attribute)) and root_name(func) not in local:
            value = _outside_value(fn, func)
            if any(value is d for d in derivatives):
                return set()
            if type(value) is types.FunctionType:       # a helper of the user's: what its value holds
                return _call_holding(value, _nested_summary(value), node.args, node.keywords,
                                     lambda a: _holding_names(a, kinds, local, calls))
        return None

    if _calls_unknown(fn, body, local - set(functions)):
        return None

    def effects(node):
        if isinstance(node.func, gast.Name) and node.func.id in functions:
            return False        # its body's writes are in the graph, its parameters bound to the arguments
        return _may_store_arguments(fn, node, local, derivatives)
    whole = gast.FunctionDef(name=fdef.name, args=fdef.args, body=list(fdef.body) + bindings, decorator_list=[],
                             returns=None, type_comment=None, type_params=[])
    holds = _holds_graph(whole, {}, calls=calls, effects=effects)
    returned = set()
    for node in (n for stmt in fdef.body for n in walk_no_defs(stmt)):
        if isinstance(node, gast.Return) and node.value is not None:
            returned |= _holding_names(node.value, {}, local, calls)
    held = _held(holds, returned)
    for name in held - local:
        value = _outside_value(fn, gast.Name(id=name, ctx=gast.Load(), annotation=None, type_comment=None))
        if not (isinstance(value, _ATOMIC) or type(value) is types.FunctionType and value.__closure__ is None):
            return None
    return frozenset(name for name in params if name in held)


def _local_functions(fn, body, local, derivatives) -> Optional[Dict[str, Any]]:
    """The functions a helper defines and binds once (``def loss(q): ...``, ``f = lambda w: ...``),
    by name, that :func:`returns_holding` reads as if written in place: no decorator, ``*``,
    ``**``, nested definition or call of another such function; one handed on other than by a
    call (``dlupdate(f, p, g)``) without writes (:func:`_effect_free`).  None where a definition
    does not qualify."""
    named: Dict[str, list] = {}
    for node in body:
        if isinstance(node, gast.FunctionDef):
            named.setdefault(node.name, []).append(node)
        elif isinstance(node, gast.AsyncFunctionDef):
            return None
        elif isinstance(node, gast.Assign) and isinstance(node.value, gast.Lambda) and \
                len(node.targets) == 1 and isinstance(node.targets[0], gast.Name):
            named.setdefault(node.targets[0].id, []).append(node.value)
    stores = [n.id for n in body if isinstance(n, gast.Name) and not isinstance(n.ctx, gast.Load)]
    functions = {}
    for name, nodes in named.items():
        f = nodes[0]
        if len(nodes) != 1 or stores.count(name) != isinstance(f, gast.Lambda):
            if isinstance(f, gast.FunctionDef):
                return None
            continue            # a lambda bound more than once: a value as any other
        if isinstance(f, gast.FunctionDef) and f.decorator_list or f.args.vararg is not None or \
                f.args.kwarg is not None:
            return None
        functions[name] = f
    callees = {id(n.func) for n in body if isinstance(n, gast.Call)}
    for name, f in functions.items():
        inner = [n for n in walk_nodes(f) if n is not f]
        if any(isinstance(n, (gast.FunctionDef, gast.AsyncFunctionDef, gast.Lambda, gast.ClassDef)) or
               isinstance(n, gast.Name) and n.id in functions for n in inner):
            return None
        handed_on = any(isinstance(n, gast.Name) and n.id == name and isinstance(n.ctx, gast.Load) and
                        id(n) not in callees for n in body)
        if handed_on and not _effect_free(fn, f, local, derivatives):
            return None
    return functions


def _local_bindings(body, functions) -> Optional[list]:
    """Assignments standing for what the calls of ``functions`` (:func:`_local_functions`) bind,
    for the flow-insensitive holds graph: each parameter to each argument given it and to its
    default, and each function's name to the names its body reads (what its closure holds).  None
    for a call it cannot bind (``*``/``**`` arguments, unknown keywords, too many arguments)."""
    def assign(name, value):
        return gast.Assign(targets=[gast.Name(id=name, ctx=gast.Store(), annotation=None, type_comment=None)],
                           value=value, type_comment=None)

    out = []
    for name, f in functions.items():
        a = f.args
        positional = [p.id for p in list(a.posonlyargs) + list(a.args)]
        for p, d in zip(positional[len(positional) - len(a.defaults):], a.defaults):
            out.append(assign(p, d))
        for p, d in zip(a.kwonlyargs, a.kw_defaults):
            if d is not None:
                out.append(assign(p.id, d))
        reads = sorted({n.id for n in walk_nodes(f) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load)})
        out.append(assign(name, gast.Tuple(elts=[load(n) for n in reads], ctx=gast.Load())))
    for node in body:
        if not (isinstance(node, gast.Call) and isinstance(node.func, gast.Name) and node.func.id in functions):
            continue
        a = functions[node.func.id].args
        positional = [p.id for p in list(a.posonlyargs) + list(a.args)]
        keyword = [p.id for p in a.args] + [p.id for p in a.kwonlyargs]
        if len(node.args) > len(positional) or any(isinstance(v, gast.Starred) for v in node.args) or \
                any(k.arg not in keyword for k in node.keywords):
            return None
        out.extend(assign(p, v) for p, v in zip(positional, node.args))
        out.extend(assign(k.arg, k.value) for k in node.keywords)
    return out


_SAFE_BUILTINS = frozenset(("len", "range", "abs", "min", "max", "sum", "float", "int", "complex", "bool",
                            "round", "pow", "isinstance", "zip", "enumerate", "tuple", "list", "dict"))


def _effect_free(fn, f, local, derivatives) -> bool:
    """Does the function or lambda ``f`` (a node) write into nothing, calling only numpy's, math's
    and a few builtins' functions (which neither store nor write their arguments)?"""
    for n in walk_nodes(f):
        if isinstance(n, (gast.Subscript, gast.Attribute)) and not isinstance(n.ctx, gast.Load) or \
                isinstance(n, (gast.AugAssign, gast.Global, gast.Nonlocal, gast.NamedExpr)):
            return False
        if isinstance(n, gast.Call):
            if any(k.arg in (None, "out") for k in n.keywords):
                return False
            func = n.func
            if not isinstance(func, (gast.Name, gast.Attribute)) or root_name(func) in local:
                return False
            value = _outside_value(fn, func)
            if any(value is d for d in derivatives) or isinstance(value, np.ufunc):
                continue
            if isinstance(func, gast.Attribute):
                module = getattr(value, "__module__", None) or ""
                if not (module.split(".")[0] in ("numpy", "math", "cmath") and callable(value)):
                    return False
            elif not (isinstance(value, (types.BuiltinFunctionType, type)) and func.id in _SAFE_BUILTINS):
                return False
    return True


_SUMMARIES = threading.local()          # .active: the code objects whose summaries are being read


def _nested_summary(fn) -> Optional[frozenset]:
    """:func:`returns_holding` of a helper ``fn`` called by one being summarised; None for a
    recursive call, or more than 8 levels deep."""
    active = getattr(_SUMMARIES, "active", None)
    if active is None:
        active = _SUMMARIES.active = set()
    if fn.__code__ in active or len(active) >= 8:
        return None
    active.add(fn.__code__)
    try:
        return returns_holding(fn)
    finally:
        active.discard(fn.__code__)


def _own_signature(fn) -> inspect.Signature:
    """The signature of the plain function ``fn``'s own code, defaults and keyword defaults."""
    return inspect.Signature(_own_parameters(fn))


def _own_parameters(fn) -> list:
    code = fn.__code__
    names = code.co_varnames
    positional = names[:code.co_argcount]
    keyword_only = names[code.co_argcount:code.co_argcount + code.co_kwonlyargcount]
    defaults = fn.__defaults__ or ()
    kwdefaults = fn.__kwdefaults__ or {}
    empty = inspect.Parameter.empty
    out = []
    for i, name in enumerate(positional):
        kind = inspect.Parameter.POSITIONAL_ONLY if i < code.co_posonlyargcount else \
            inspect.Parameter.POSITIONAL_OR_KEYWORD
        k = i - (len(positional) - len(defaults))
        out.append(inspect.Parameter(name, kind, default=defaults[k] if k >= 0 else empty))
    at = code.co_argcount + code.co_kwonlyargcount
    if code.co_flags & inspect.CO_VARARGS:
        out.append(inspect.Parameter(names[at], inspect.Parameter.VAR_POSITIONAL))
        at += 1
    for name in keyword_only:
        out.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=kwdefaults.get(name, empty)))
    if code.co_flags & inspect.CO_VARKEYWORDS:
        out.append(inspect.Parameter(names[at], inspect.Parameter.VAR_KEYWORD))
    return out


def _call_holding(fn, held, args, keywords, holding) -> Optional[set]:
    """What the call ``fn(*args, **keywords)`` (nodes) may return of the caller's names, the
    parameters ``held`` (:func:`returns_holding`) bound as Python binds them, ``holding(node)``
    what one argument holds; a parameter left to its default holds nothing of the caller's where
    that default is a number, text or None (else None, as for ``*``/``**`` arguments)."""
    if held is None or any(isinstance(a, gast.Starred) for a in args) or any(k.arg is None for k in keywords):
        return None
    try:
        # bound as the function's own code binds them: not inspect.signature's ``__wrapped__`` or
        # ``__signature__`` (functools.wraps(f) on a def whose parameters differ from f's was read
        # with f's names: what it returns of its second argument taken as its first, a partial
        # derivative at the next call; a held name not among f's raised KeyError)
        signature = _own_signature(fn)
        bound = signature.bind(*args, **{k.arg: k.value for k in keywords}).arguments
    except (TypeError, ValueError):
        return None
    out = set()
    for name in held:
        if name not in signature.parameters:
            return None
        if name in bound:
            out |= holding(bound[name])
        elif not isinstance(signature.parameters[name].default, _ATOMIC):
            return None
    return out


# methods of lists, dicts, sets and arrays (on a local) whose effects the holds graph follows: the
# receiver holds the arguments
_CONTAINER_METHODS = frozenset((
    "append", "extend", "insert", "remove", "pop", "clear", "sort", "reverse", "update", "setdefault", "popitem",
    "add", "discard", "get", "keys", "values", "items", "copy", "index", "count", "reshape", "ravel", "sum",
    "mean", "max", "min", "astype", "transpose", "dot", "flatten", "squeeze", "item", "tolist", "fill",
    "union", "intersection", "difference", "join", "split", "format", "strip", "replace", "startswith",
    "endswith", "lower", "upper"))


def _calls_unknown(fn, body, local) -> bool:
    """Does ``fn``'s code (its nodes ``body``) call what its source does not name: a call's value
    (``getattr(q, "update")(z=x)``), a local callable (``f = partial(put, q); f(x)``), or hand on a
    function that may store its arguments into one another, for some other code to call it
    (``max([q], key=partial(put, v=x))``, ``map(put, [q], [x])``)?"""
    callees = {id(n.func) for n in body if isinstance(n, gast.Call)}
    for n in body:
        if isinstance(n, gast.Call):
            if not isinstance(n.func, (gast.Name, gast.Attribute)) or \
                    isinstance(n.func, gast.Name) and n.func.id in local:
                return True
        elif isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load) and id(n) not in callees and \
                n.id not in local:
            value = _outside_value(fn, n)
            if isinstance(value, functools.partial) or type(value) is types.FunctionType and \
                    _may_store_arguments(fn, gast.Call(n, [n, n], []), local, ()):
                return True
        elif isinstance(n, gast.Attribute) and isinstance(n.ctx, gast.Load) and id(n) not in callees and \
                root_name(n) in local and n.attr in _STORING_METHODS:
            return True         # ``map(q.update, ...)``: a bound method handed on
    return False


_STORING_METHODS = frozenset(("append", "extend", "insert", "update", "setdefault", "add", "__setitem__",
                              "__setattr__", "__iadd__"))


def _may_store_arguments(fn, node, local, derivatives) -> bool:
    """May the call ``node`` in ``fn`` store some of its arguments into another (a helper writing into
    its parameter, ``operator.setitem``, a method of an object of the user's)?  Unsure: yes."""
    func = node.func
    given = len(node.args) + len(node.keywords) + isinstance(func, gast.Attribute)
    if given < 2:
        return False
    root = root_name(func)
    if root is not None and root in local:
        return not (isinstance(func, gast.Attribute) and func.attr in _CONTAINER_METHODS)
    value = _outside_value(fn, func)
    if value is _MISSING:
        return True
    if any(value is d for d in derivatives) or isinstance(value, np.ufunc):
        return False
    module = getattr(value, "__module__", None) or ""
    if module.split(".")[0] in ("numpy", "math", "cmath"):
        return False
    if isinstance(value, types.BuiltinFunctionType) and module == "builtins":
        return False            # len, isinstance, print, ... (setattr: the graph's own)
    if isinstance(value, type):
        return not (module_top(value) == "builtins" or hasattr(value, "_fields") or
                    hasattr(value, "__dataclass_fields__"))
    if type(value) is types.FunctionType:
        from .inline_helpers import _writes_into_parameters
        try:
            return bool(_writes_into_parameters(value))
        except Exception:       # noqa: BLE001  (unsure)
            return True
    return True


class _KnownReturns:
    """What the calls of helpers in a caller's generated code may hold, from the helpers' own code
    (:func:`returns_holding`): ``p = rt.primal_call_at(site, step, mask, p, x)``, and ``p`` of
    ``(p, p_residuals) = step_fwd(p, x)`` after ``(step_fwd, step_bwd) = rt.vjp_at(site, step,
    mask, p, x)`` (a guarded pair: its ``else``), hold what ``step``'s value may hold of its
    arguments (the residuals: all of them).  The helper is the one the caller's guards fix (the
    global, closure cell it reads when the entry check ran): a new one compiles the caller again."""

    def __init__(self, fdef, namespace, local, kinds):
        self.namespace, self.local, self.kinds = namespace, local, kinds
        self.fdef = fdef
        self.forwards: Dict[str, Optional[Tuple[Any, frozenset]]] = {}   # name -> (helper, held)
        self.summaries: Dict[int, Optional[frozenset]] = {}
        pairs: Dict[str, int] = {}
        stores: Dict[str, int] = {}
        for node in walk_nodes(fdef):
            if isinstance(node, gast.Name) and not isinstance(node.ctx, gast.Load):
                stores[node.id] = stores.get(node.id, 0) + 1
        # a method's receiver: a parameter of the generated function never bound in it, its class
        # fixed by the kinds the function was compiled for
        self.receivers = {a.id for a in walk_nodes(fdef.args) if isinstance(a, gast.Name) and stores.get(a.id) == 1}
        for node in walk_nodes(fdef):
            if isinstance(node, gast.Assign) and len(node.targets) == 1 and \
                    isinstance(node.targets[0], gast.Tuple) and len(node.targets[0].elts) == 2 and \
                    isinstance(node.targets[0].elts[0], gast.Name):
                value = node.value.orelse if isinstance(node.value, gast.IfExp) else node.value
                fn = self._helper(value, "vjp_at") or self._method(value, "vjp_method_at")
                if fn is None:
                    continue
                name = node.targets[0].elts[0].id
                held = self._summary(fn)
                _mark_summarised(value, fn, held)
                before = self.forwards.get(name, (fn, held))
                self.forwards[name] = None if before is None or before[0] is not fn or held is None else (fn, held)
                pairs[name] = pairs.get(name, 0) + 1
        for name in self.forwards:
            if stores.get(name) != pairs[name]:
                self.forwards[name] = None

    def _summary(self, fn) -> Optional[frozenset]:
        if id(fn) not in self.summaries:
            self.summaries[id(fn)] = returns_holding(fn)
        return self.summaries[id(fn)]

    def _helper(self, node, attr: str):
        """The helper ``node`` (``rt.<attr>(site, helper, mask, *args, **keywords)``) calls, where
        it is a plain function."""
        if not (isinstance(node, gast.Call) and isinstance(node.func, gast.Attribute) and node.func.attr == attr and
                isinstance(node.func.value, gast.Name) and node.func.value.id not in self.local and
                len(node.args) >= 3 and not any(isinstance(a, gast.Starred) for a in node.args[:3])):
            return None
        fn = _static_value(node.args[1], self.namespace, self.local)
        return fn if type(fn) is types.FunctionType else None

    def _nested(self, node):
        """For ``rt.primal_call_at(site, step, mask, *args)`` of a def nested in the function (its closure
        values its first parameters, ``def step(x, p, vel)``): what its value holds of the arguments, read
        from its tree, as ``holding(kinds, local)``; None where not such a call (was: all its arguments, so
        ``p, vel, L = step(p, vel)`` in a loop held the plain ``x`` it closes over beside p: refused as "a
        value computed from another value it holds", red team 51 FR8).  The def is the function's own code,
        fixed with it: nothing to check when it runs."""
        if not (isinstance(node, gast.Call) and isinstance(node.func, gast.Attribute) and
                node.func.attr == "primal_call_at" and isinstance(node.func.value, gast.Name) and
                node.func.value.id not in self.local and len(node.args) >= 3 and
                isinstance(node.args[1], gast.Name) and self.namespace is not None and
                not any(isinstance(a, gast.Starred) for a in node.args) and all(k.arg for k in node.keywords)):
            return None
        tree = _nested_def(self.fdef, node.args[1].id)
        if tree is None or tree.args.kwonlyargs or tree.args.posonlyargs:
            return None
        key = ("nested", id(tree))
        if key not in self.summaries:
            stand = types.FunctionType(_STAND_IN.__code__, self.namespace)
            try:
                self.summaries[key] = returns_holding(stand, tree)
            except Exception:           # noqa: BLE001  (not told)
                self.summaries[key] = None
        held = self.summaries[key]
        if held is None:
            return None
        params = [a.id for a in tree.args.args]
        given = dict(zip(params, node.args[3:]))
        given.update({k.arg: k.value for k in node.keywords})
        if len(node.args) - 3 > len(params) or any(name not in given for name in held):
            return None

        def holding(kinds, local):
            out = set()
            for name in held:
                out |= _holding_names(given[name], kinds, local, self)
            return out
        return holding

    def _method(self, node, attr: str):
        """The function ``node`` (``rt.<attr>(site, obj, "name", mask, obj, *args)``) calls: the
        class's own plain function of that name, where ``obj`` is a receiver whose kind (an
        object of a class, not holding that name itself) the compiled function is keyed on."""
        if not (isinstance(node, gast.Call) and isinstance(node.func, gast.Attribute) and node.func.attr == attr and
                isinstance(node.func.value, gast.Name) and node.func.value.id not in self.local and
                len(node.args) >= 5 and not any(isinstance(a, gast.Starred) for a in node.args[:5]) and
                isinstance(node.args[1], gast.Name) and node.args[1].id in self.receivers and
                isinstance(node.args[4], gast.Name) and node.args[4].id == node.args[1].id and
                isinstance(node.args[2], gast.Constant) and isinstance(node.args[2].value, str)):
            return None
        kind = self.kinds.get(node.args[1].id) if self.kinds is not None else None
        if not (isinstance(kind, tuple) and len(kind) == 3 and kind[0] == "obj" and isinstance(kind[1], type) and
                isinstance(kind[2], tuple)):
            return None
        name = node.args[2].value
        if any(isinstance(f, tuple) and f and f[0] == name for f in kind[2]):
            return None             # the object's own attribute of that name
        if kind[1].__getattribute__ is not object.__getattribute__:
            return None
        fn = inspect.getattr_static(kind[1], name, None)
        return fn if type(fn) is types.FunctionType else None

    def _holding(self, fn, held, args, keywords, kinds, local) -> Optional[set]:
        return _call_holding(fn, held, args, keywords, lambda a: _holding_names(a, kinds, local, self))

    def __call__(self, node, kinds, local) -> Optional[set]:
        fn = self._helper(node, "primal_call_at")
        if fn is not None:
            _mark_summarised(node, fn, self._summary(fn))
            return self._holding(fn, self._summary(fn), node.args[3:], node.keywords, kinds, local)
        nested = self._nested(node)
        if nested is not None:
            return nested(kinds, local)
        if isinstance(node, gast.Call) and _optimizer_update(node, self.namespace, self.local):
            return set()        # (sgdmupdate's parameters and states: new arrays, none of its arguments)
        fn = self._method(node, "primal_method_at")
        if fn is not None:
            _mark_summarised(node, fn, self._summary(fn))
            return self._holding(fn, self._summary(fn), node.args[4:], node.keywords, kinds, local)
        return None

    def pair(self, node, kinds, local):
        """``[(roots, names)]`` for ``(v, v_residuals) = step_fwd(...)`` of a summarised helper, or None."""
        value = node.value
        if not (len(node.targets) == 1 and isinstance(node.targets[0], gast.Tuple) and
                len(node.targets[0].elts) == 2 and isinstance(value, gast.Call) and
                isinstance(value.func, gast.Name) and self.forwards.get(value.func.id) is not None):
            return None
        fn, held = self.forwards[value.func.id]
        names = self._holding(fn, held, value.args, value.keywords, kinds, local)
        if names is None:
            return None
        everything = set()
        for a in value.args + [k.value for k in value.keywords]:
            everything |= _holding_names(a, kinds, local, self)
        first, second = node.targets[0].elts
        return [(_stored_roots(first), names), (_stored_roots(second), everything)]


def _mark_summarised(node, fn, held) -> None:
    """Note on the generated call ``node`` that the links of its caller's calls were read with
    ``held``, the summary of ``fn`` (:func:`returns_holding`): its site checks, on a miss, that it
    still calls ``fn`` with that summary (:func:`summary_still_holds`)."""
    if held is None:
        return
    before = getattr(node, "sct_summarised", None)
    node.sct_summarised = (fn, held) if before is None or before == (fn, held) else (None, None)


class Summarised:
    """A call site whose callee's summary (:func:`returns_holding`) its caller's checks of the
    calls after it rest on: ``fn`` and ``held`` (``fn`` None: two were read), where it is
    (``filename``, ``line``), the receiver's class and the method's name (a method's call), and
    ``stale``: a miss found it changed (the caller's check then fails: compiled again)."""
    __slots__ = ("fn", "held", "cls", "name", "filename", "line", "stale")

    def __init__(self, fn, held, cls, name, filename, line):
        self.fn, self.held, self.cls, self.name = fn, held, cls, name
        self.filename, self.line, self.stale = filename, line, False

    def at_miss(self, op, target, name) -> None:
        summary_still_holds(self, op, target, name)


def _class_function(cls, name):
    for k in cls.__mro__:
        if name in k.__dict__:
            return k.__dict__[name]
    return None


def _summary_check(site) -> bool:
    """The caller's check of a summarised site (folded into it): not found changed at a miss, and,
    for a method, the class's function of that name still the one summarised (``Trainer.step =
    other`` between two runs compiles the caller again, reading the new one's summary)."""
    s = site.summarised
    return not s.stale and (s.cls is None or _class_function(s.cls, s.name) is s.fn)


def summary_still_holds(s, op, target, name) -> None:
    """At a miss of a summarised site (:class:`Summarised`): refused where the function now called
    is not the one whose summary the caller's checks read, or its summary changed (a helper it
    calls rebound): the calls after it were checked for links by what the old one returns (was: a
    method replaced on the class, or set on the object, inside the loop, or a helper of the step
    rebound by ``global``, ran the later calls with a partial derivative)."""
    if op in ("vjp_method", "primal_method"):
        from .runtime.support import method_of
        method = method_of(target, name)
        fn = method.__func__ if type(method) is types.MethodType and method.__self__ is target else method
    else:
        fn = target
    if fn is s.fn and returns_holding(fn) == s.held:
        return
    s.stale = True
    what = f"{name}()" if name else f"{getattr(s.fn, '__name__', 'the helper')}()"
    error = CompileError(
        f"this call of {what} now runs a different function, or one whose value may hold other arguments "
        f"(a method replaced on the class or set on the object, a helper it calls rebound), than when the "
        f"function calling it was compiled: sct checked the calls after this one (for a helper taking "
        f"dlgradient of one argument passed a value computed from another) by what the old one returns. "
        f"Change it before calling dlfeval, not while it runs", s.filename, s.line, "call")
    error.at_call = True
    raise error


def _keep_summaries(tree) -> None:
    """The sites whose callees' summaries the caller's links were read with: each checks, on a miss,
    that the summary still holds, and the caller's check that none was found changed."""
    for call in tree.calls:
        found = getattr(call.node, "sct_summarised", None)
        site = call.site
        if found is None or not isinstance(site, CallSite):
            continue
        cls = name = None
        if call.op in ("vjp_method", "primal_method"):
            kind = (tree.resolution.kinds or {}).get(call.node.args[1].id) \
                if isinstance(call.node.args[1], gast.Name) else None
            name = call.node.args[2].value
            cls = kind[1] if isinstance(kind, tuple) and len(kind) == 3 and isinstance(kind[1], type) else None
        site.summarised = Summarised(found[0], found[1], cls, name, tree.resolution.filename, call.line)
        tree.folded.append((_summary_check, site))


def _held(holds: Dict[str, set], names: set) -> set:
    seen, todo = set(names), list(names)
    while todo:
        for m in holds.get(todo.pop(), ()):
            if m not in seen:
                seen.add(m)
                todo.append(m)
    return seen


def _refuse_joint(call, compiled, args, fn, filename, kinds=None, namespace=None, arg_kinds=()) -> None:
    """``compiled`` (a helper) takes ``dlgradient(y, x)`` of its parameter ``x`` with ``y`` also
    depending on another parameter (``Compiled.joint_sites``, sct/helper_sites.py): the helper's
    code holds that parameter constant, so a call passing there a value computed from the
    argument given as ``x`` (``h(x, x ** 2)``) would get a partial derivative where MATLAB's
    trace gives the whole one: refused at the call."""
    if getattr(compiled, "joint_sites", ()):
        refuse_linked(compiled, _links(call.fdef, args, kinds=kinds, namespace=namespace), fn, filename, call.line,
                      lambda i, paths: _linking_kind(arg_kinds[i] if i < len(arg_kinds) else None, paths))


def _linking_kind(kind, paths) -> bool:
    """May a value of this kind (None: not known) be a list, tuple, dict or object, with a traced
    item at one of ``paths`` (None: any)?"""
    def item(kind, path):
        for key in path:
            if not (isinstance(kind, tuple) and kind[:1] in (("map",), ("seq",), ("obj",))):
                return None
            found = [v for k, v in (enumerate(kind[2]) if kind[0] == "seq" else kind[2]) if k == key]
            kind = found[0] if found else None
        return kind
    if isinstance(kind, tuple) and kind[:1] in (("dl",), ("nd",), ("num",), ("const",)):
        return False
    return paths is None or any(not (isinstance(k, tuple) and k[:1] in (("num",), ("const",)))
                                for k in (item(kind, path) for path in paths))


class _AllPairs(frozenset):
    """The links of a call whose arguments are unpacked with ``*``: every pair."""
    unpacked = True             # (said so by helper_sites.refuse_linked)

    def __contains__(self, pair) -> bool:
        return True

    def __bool__(self) -> bool:
        return True


ALL_PAIRS = _AllPairs()


def _call_args(call) -> list:
    """The arguments a site's call passes its callee: ``rt.X_at(site, target, [name,] mask, *args)``."""
    return call.node.args[1:][3 if call.op in ("vjp_method", "primal_method") else 2:]


def _unpacked(args, kinds, fdef) -> Optional[list]:
    """The arguments of a call with ``*xs`` among them, each ``*xs`` replaced by ``xs[0], xs[1], ...``
    where ``xs`` is a parameter of ``fdef`` never bound again whose kind (a tuple or list) gives its
    length; None where one's length is not known.  (``fun(*before, x1, x2, *after)``, jvp's
    transposing kernel: was every pair linked, so a helper's dlgradient with respect to x1 of a y
    depending on x2 was refused, naming sct's own file.)"""
    params = {a.id for a in fdef.args.args if isinstance(a, gast.Name)}
    bound = {n.id for n in walk_nodes(fdef) if isinstance(n, gast.Name) and not isinstance(n.ctx, gast.Load)
             and n not in fdef.args.args}
    out = []
    for a in args:
        if not isinstance(a, gast.Starred):
            out.append(a)
            continue
        name = a.value.id if isinstance(a.value, gast.Name) else None
        kind = kinds.get(name) if name in params and name not in bound and kinds else None
        if not (isinstance(kind, tuple) and len(kind) == 3 and kind[0] == "seq" and kind[1] in (tuple, list)):
            return None
        out.extend(gast.Subscript(value=load(name), slice=const(i), ctx=gast.Load()) for i in range(len(kind[2])))
    return out


def _forwarded_links(call, kinds, namespace) -> Optional[frozenset]:
    """The links of ``f(a, *args)`` in a function whose ``*args`` parameter (of a length its kind gives)
    is read nowhere else: never bound again, never read but by this one call (and the generated
    ``rt.starred_mask`` counting its items there), so nothing in the function reads or changes its
    items, which are the values its own caller passed: each item is read as a parameter of its own
    (``args[k]``, a name no code has), which the names computed from ``args`` (none, but for this
    call's value) read.  None where the call is not such a one."""
    fdef = call.fdef
    vararg = fdef.args.vararg.id if isinstance(fdef.args.vararg, gast.Name) else None
    args = _call_args(call)
    starred = [a for a in args if isinstance(a, gast.Starred)]
    kind = (kinds or {}).get(vararg)
    if vararg is None or len(starred) != 1 or not isinstance(starred[0].value, gast.Name) or \
            starred[0].value.id != vararg or \
            not (isinstance(kind, tuple) and len(kind) == 3 and kind[0] == "seq" and kind[1] is tuple):
        return None
    masks = [a for a in call.node.args if isinstance(a, gast.Call) and isinstance(a.func, gast.Attribute) and
             a.func.attr == "starred_mask"]
    allowed = {id(starred[0].value)} | {id(a) for m in masks for a in m.args if isinstance(a, gast.Name)}
    for node in walk_nodes(fdef):
        if isinstance(node, gast.Name) and node.id == vararg and node is not fdef.args.vararg and \
                id(node) not in allowed:
            return None         # (read or bound again elsewhere: every pair, as before)
    items = [f"{vararg}[{k}]" for k in range(len(kind[2]))]
    graph = {k: set(v) for k, v in _reads_graph(fdef).items()}
    graph.setdefault(vararg, set()).update(items)
    known = dict(kinds or {})
    known.update(zip(items, kind[2]))
    expanded = []
    for a in args:
        expanded += [load(n) for n in items] if a is starred[0] else [a]
    return _links(fdef, expanded, graph, known, namespace)


def _keep_links(tree) -> None:
    """Give the sites of the calls left to their first run the links of their arguments (for
    refuse_linked when the callee is compiled then)."""
    graphs: Dict[int, Dict[str, set]] = {}
    held: Dict[Tuple[int, bool], Dict[str, set]] = {}
    shown: Dict[int, Dict[str, list]] = {}
    for call, record in zip(tree.calls, tree.records):
        # a method's call resolved now keeps the links read without the summaries of methods: the
        # class's function may be replaced later (``Trainer.step = other``), which fails the call's
        # guard, and its first run is checked then (was: not at all, with the old method's summary)
        method = record is not None and record.resolved and call.op in ("vjp_method", "primal_method")
        # (a function's call resolved now keeps its links too: its guard fails where the arguments'
        # kinds when it runs differ from those read when compiling, an object built by its class,
        # ``o = Obj(np.sum(w), x)``, read as holding no traced value, and the callee is compiled then
        # for the kinds it is given; was: not checked then, so a helper's dlgradient with respect to
        # ``w`` of a y also reading ``o`` gave the partial derivative)
        args = _call_args(call)
        if any(isinstance(a, gast.Starred) for a in args):
            args = _unpacked(args, tree.resolution.kinds, call.fdef)
        if args is None:
            # ``hj(*xs)``: the positions are known at run time only; every pair is read as linked
            # (was: none, so hj(*[x, x * 2]) of a helper taking a joint dlgradient got the partial
            # derivative)
            if hasattr(call.site, "linked"):
                call.site.linked = (ALL_PAIRS, tree.resolution.filename, call.line)
            continue
        if not args:
            continue
        graph = graphs.get(id(call.fdef))
        if graph is None:
            graph = graphs[id(call.fdef)] = _reads_graph(call.fdef)
        holds = held.get((id(call.fdef), method))
        if holds is None:
            holds = held[(id(call.fdef), method)] = _holds_graph(
                call.fdef, tree.resolution.kinds, namespace=tree.resolution.namespace, methods=not method)
        found = shown.get(id(call.fdef))
        if found is None:
            found = shown[id(call.fdef)] = _displays(call.fdef)
        links = _links(call.fdef, args, graph, tree.resolution.kinds, tree.resolution.namespace, methods=not method,
                       holds=holds, displays=found)
        if links and hasattr(call.site, "linked"):
            call.site.linked = (links, tree.resolution.filename, call.line)


def _resolve_one(resolution, call) -> CallRecord:
    try:
        return resolution.resolve(call)
    except CompileError as exc:
        if getattr(exc, "at_call", False):      # refused at the call (_refuse_joint), not left to its first run
            raise
        resolution.bound.pop(id(call.node), None)
        return resolution.record(call, reason=f"compiling it for the predicted kinds raised {type(exc).__name__}")
    except Exception as exc:        # noqa: BLE001  (compiled again, and reported, on first call)
        resolution.bound.pop(id(call.node), None)
        return resolution.record(call, reason=f"compiling it for the predicted kinds raised {type(exc).__name__}")


def _calls_own_code(call, context) -> bool:
    """A call of a function generated with the caller (a sweep differentiated again)."""
    target = call.node.args[1] if len(call.node.args) > 1 else None
    return call.op in ("vjp", "primal_call") and isinstance(target, gast.Name) and target.id in context.names


def finish_call_tree(tree, compiled, namespace: Dict[str, Any]) -> None:
    """After the caller is loaded: resolve the calls of its own generated functions (kept in their
    sites), give ``compiled`` its records, the callees' checks (folded into its own), whether it may
    run code sct did not compile, and the kind of its value."""
    resolution = tree.resolution
    if tree.deferred:
        resolution.namespace = namespace
        resolution.context = None
        code = getattr(tree.fn, "__code__", None)
        with _descend(tree.fn) if code is not None else _nothing():
            for i in tree.deferred:
                tree.records[i] = _resolve_one(resolution, tree.calls[i])
    _keep_summaries(tree)
    records = [r for r in tree.records if r is not None]
    for r in records:
        STATS["resolved" if r.resolved else "dynamic"] += 1
    compiled.calls = records
    compiled.opaque = tree.opaque
    # user code it runs may rebind a function it calls as base.attr(...), chosen when it was compiled:
    # checked after its run (the entry by sct.api; a helper's forward ends with rt.targets_kept)
    compiled.recheck = tree.recheck or (tree.opaque and bool(compiled.call_targets))
    compiled.recheck_all = tree.recheck
    if tree.folded:
        compiled.check = fold_checks(compiled.check, tree.folded)
    if tree.context is not None:
        compiled.result_kind = _result_kind(tree.context.generated, resolution.kinds, namespace,
                                            resolution.results)


def _result_kind(generated, kinds, namespace, results):
    """The kind of the value the generated code returns (its forward's first output), where every
    return says the same; None where it cannot be told."""
    name = getattr(generated, "fwd", None) or generated.entry
    fdef = next((f for f in generated.functions if isinstance(f, gast.FunctionDef) and f.name == name), None)
    if fdef is None:
        return None
    known = _generated_kinds(fdef, kinds, namespace, results)
    found = set()
    for node in walk_no_defs(fdef):
        if isinstance(node, gast.Return):
            value = node.value
            if getattr(generated, "fwd", None):
                if not (isinstance(value, gast.Tuple) and len(value.elts) == 2):
                    return None
                value = value.elts[0]
            if not isinstance(value, gast.Name):
                return None
            kind = known.get(value.id, kinds.get(value.id))
            kind = _retrace(kind, False) if kind is not None else None
            if kind is None:
                return None
            found.add(kind)
    return found.pop() if len(found) == 1 else None


# --- calls by name -----------------------------------------------------------------------------------

_REBINDING_BUILTINS = (setattr, delattr, exec, eval, globals, vars)
_TYPE_TESTS = (isinstance, issubclass, type, id)


def _runs_user_code(tree) -> bool:
    """Whether the caller's generated code may run user code that sct did not compile (which could
    rebind a global a callee reads): a plain call of a user function, an effect, a call left to
    run time, a callee that may itself."""
    context = tree.context
    namespace = tree.resolution.namespace
    for i, r in enumerate(tree.records):
        if i in tree.deferred:
            continue
        if r is None or not r.resolved or (r.compiled is not None and getattr(r.compiled, "opaque", True)):
            return True
    plain = set()            # names read as values found to hold no user code (each looked up once)
    for fdef in context.generated.functions:
        passed = set()       # ids of names a call is passed (or calls): the calls' checks below read them
        sites = set()        # ids of what a call calls, and of the callees of call sites
        for node in walk_nodes(fdef):    # (breadth first: a call before the names it is passed)
            if node.__class__ is gast.Name:
                if id(node) not in passed and isinstance(node.ctx, gast.Load) and node.id not in plain:
                    if _user_code_value(namespace.get(node.id, _MISSING) if node.id in namespace
                                        else context.param_kinds.get(node.id), node.id not in namespace):
                        # a user function kept as a value (k = f, {"float_kind": f}, [f]): whatever it
                        # is passed to may call it (np.array2string's formatter)
                        return True
                    plain.add(node.id)
                continue
            if node.__class__ is gast.Attribute and isinstance(node.ctx, gast.Load) and id(node) not in sites and \
                    _user_code_value(_static_value(node, namespace, set()), False):
                return True      # a user function read off a module, class or namespace (helpers.fmt)
            if node.__class__ is gast.Call:
                passed.add(id(node.func))
                passed.update(id(a.value if isinstance(a, gast.Starred) else a) for a in node.args)
                passed.update(id(k.value) for k in node.keywords)
                sites.add(id(node.func))        # (called, or a call site's callee: its record decides)
                func = node.func
                if isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name) and \
                        func.value.id == context.rt_name and (func.attr.endswith("_at") or func.attr == "new_object"):
                    sites.update(id(a) for a in node.args)
            elif node.__class__ is gast.Compare:
                passed.update(id(o) for o in [node.left] + node.comparators)   # type(v) is Cls
            elif node.__class__ is gast.Attribute and isinstance(node.value, gast.Name) and \
                    isinstance(namespace.get(node.value.id, _MISSING), type):
                passed.add(id(node.value))     # Cls.CONSTANT: the class's attribute (checked below)
            if isinstance(node, gast.Attribute):
                if isinstance(node.ctx, (gast.Store, gast.Del)):
                    return True          # obj.attr = v: an attribute (a module's global) a callee may read
                if isinstance(node.value, gast.Name) and node.value.id != context.rt_name and \
                        _runs_getter(namespace.get(node.value.id, _MISSING), node.attr):
                    return True          # GM.v of a global object whose class computes v (a property)
                continue
            if not isinstance(node, gast.Call):
                continue
            func = node.func
            # the functions it is given, by position or keyword (``sorted(v, key=f)``: Python calls f)
            names = [a.id for a in [a.value if isinstance(a, gast.Starred) else a for a in node.args] +
                     [k.value for k in node.keywords] if isinstance(a, gast.Name)]
            given = [namespace.get(n, _MISSING) for n in names]
            # the caller's parameters by their kinds: a function (``key=f``), an object of a user's class
            kinds = [context.param_kinds.get(n) for n in names if n not in namespace]
            if isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name) and \
                    func.value.id == context.rt_name:
                if func.attr in USER_CODE_RT:
                    return True
                if func.attr.endswith("_at") or func.attr == "new_object":   # call sites: their records
                    continue
                values = given
            elif isinstance(func, gast.Name):
                called = namespace.get(func.id, _MISSING)
                if any(called is b for b in _REBINDING_BUILTINS):
                    return True
                if getattr(called, "__sct_generated__", False) or any(called is b for b in _TYPE_TESTS):
                    given, kinds = [], []    # (code sct generated follows what it is given; isinstance(v, Cls))
                values = [called] + given
                if isinstance(called, (types.BuiltinFunctionType, type)) and \
                        module_top(called) == "builtins" and \
                        all(called is not b for b in (getattr, hasattr)) and \
                        (any(_user_object(v) for v in given) or any(_user_object_kind(k) for k in kinds)):
                    return True          # str(obj), len(obj), sorted(objs): the object's class's methods
            else:
                values = given
            for value in values:
                if _user_code_value(value, False):      # (or a global list or dict of them)
                    return True
            if any(_function_kind(k) for k in kinds):
                return True
    return False


def _user_code_value(value, is_kind: bool, depth: int = 0) -> bool:
    """A user's function, bound method or class (or a plain list, tuple, dict or set holding one: a
    global's value), or a parameter's kind saying it holds a function: a value some library function
    given it, or given a container holding it, may call (sct does not see the call)."""
    if is_kind:
        return _function_kind(value)
    if _user_function(value):
        return True
    if depth < 3 and type(value) in (list, tuple, set, frozenset):
        return any(_user_code_value(v, False, depth + 1) for v in value)
    if depth < 3 and type(value) is dict:
        return any(_user_code_value(v, False, depth + 1) for v in value.values())
    return False


def _function_kind(kind) -> bool:
    """A parameter's kind: a Python function or bound method (given on to code Python runs)."""
    return isinstance(kind, tuple) and len(kind) == 2 and kind[0] == "const" and \
        kind[1] in (types.FunctionType, types.MethodType)


def _user_object_kind(kind) -> bool:
    """A parameter's kind: an object of a user's class."""
    return isinstance(kind, tuple) and len(kind) > 1 and kind[0] in ("obj", "const") and \
        isinstance(kind[1], type) and kind[1] not in (types.FunctionType, types.MethodType) and \
        not _library(module_name(kind[1])) and \
        (getattr(kind[1], "__module__", None) or "").split(".")[0] not in _PYTHON_MODULES


def _user_function(value) -> bool:
    """A function, class or bound method of the user's (Python code sct did not generate)."""
    return isinstance(value, (types.FunctionType, type, types.MethodType)) and \
        not getattr(value, "__sct_generated__", False) and \
        not _library(module_name(value))


def _user_object(value) -> bool:
    """An object of a user's class (whose special methods a builtin given it runs)."""
    cls = type(value)
    module = module_name(cls)
    return value is not _MISSING and not isinstance(value, (type, types.FunctionType, types.MethodType,
                                                             types.ModuleType)) and \
        not _library(module) and (module or "").split(".")[0] not in _PYTHON_MODULES


# Python's modules whose objects' classes run no user code (rt's SimpleNamespace, a deque, a partial)
_PYTHON_MODULES = ("types", "collections", "functools", "itertools", "operator", "random", "fractions",
                   "decimal", "re", "threading", "weakref", "enum", "typing", "abc")


def _runs_getter(base, attr: str) -> bool:
    """Reading ``base.attr`` of a global user object runs the class's code (a property, a descriptor,
    ``__getattr__``)."""
    if not _user_object(base):
        return False
    cls = type(base)
    try:
        raw = inspect.getattr_static(cls, attr, None)
    except Exception:
        return True
    return (raw is not None and hasattr(type(raw), "__get__") and
            not isinstance(raw, (types.FunctionType, staticmethod, classmethod))) or \
        "__getattr__" in dir(cls) or cls.__getattribute__ is not object.__getattribute__


def _bind_all(tree) -> None:
    resolution = tree.resolution
    # (the caller's walk of its generated functions, sct.ir.shared_walks, is read here as it is: resolving
    # the calls changes none of their nodes, _bind below rewrites them and marks them changed; was: walked
    # afresh here, once more at each compilation)
    tree.opaque = _runs_user_code(tree)
    # the values the caller read are checked again after its run (sct.api) where only user code it
    # calls, not an attribute it assigns itself, could have rebound them
    tree.recheck = tree.opaque and not any(
        isinstance(node, gast.Attribute) and isinstance(node.ctx, (gast.Store, gast.Del))
        for fdef in tree.context.generated.functions for node in walk_nodes(fdef))
    seen = set()
    for i, r in enumerate(tree.records):
        if r is None or not r.resolved:
            continue
        bound = resolution.bound.get(id(tree.calls[i].node))
        if bound is None:
            continue
        names, guarded = _bind(tree, bound)
        for fdef in tree.context.generated.functions:     # (its call rewritten: the next walk walks
            tree_changed(fdef)                            # the new tree, sct.ir.shared_walks)
        if names:
            tree.records[i] = CallRecord(r.label, r.line, r.op, r.site, r.compiled, r.reason, r.resolved,
                                         names, guarded)
        if not tree.opaque and bound.compiled is not None:
            key = (id(bound.compiled.check), id(bound.callee))
            if key not in seen:
                seen.add(key)
                tree.folded.append((bound.compiled.check, bound.callee))
    for fdef, renames in tree.context.renames.values():
        for n in walk_nodes(fdef):
            if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load) and n.id in renames:
                n.id = renames[n.id]      # (a leaf changed in place: no walk changes)


def _digest(first) -> str:
    filename = getattr(getattr(first, "__code__", None), "co_filename", "")
    tail = filename.strip("<>").split(" ")[-1] if filename.startswith("<sct-generated") else ""
    return tail if tail.isalnum() else ""


def _global(tree, base: str, value, share: bool = True) -> str:
    """A name of the generated module bound to ``value``: fresh, or the one it already has there
    (``share``: one name per pair or entry code, however many calls make)."""
    names = tree.context.bound_names
    known = names.get(id(value)) if share else None
    if known is not None and known[0] is value:
        return known[1]
    name = tree.context.namer.fresh(base)
    tree.resolution.namespace[name] = value
    names[id(value)] = (value, name)
    return name


def _name(id_: str, store: bool = False):
    return gast.Name(id=id_, ctx=gast.Store() if store else gast.Load(), annotation=None, type_comment=None)


def _bind(tree, bound: _Bound) -> Tuple[Tuple[str, ...], bool]:
    """Rewrite the call of ``bound`` to call its code by name; returns the names it binds and
    whether a guard checks the call."""
    call = bound.call
    context = tree.context
    node = call.node
    method = call.op in ("vjp_method", "primal_method")
    args = node.args[(4 if method else 3):]
    label = call.label
    digest = _digest(bound.first)
    suffix = ("_" + digest) if digest else ""
    guard = _guard_source(bound, check_callee=tree.opaque and bound.compiled is not None)
    guard_name = None
    if guard is not None:
        guard_name = _global(tree, label + "_guard", guard, share=False)
    test = None
    if guard_name:          # through the runtime, which declares it without derivative (read again)
        test = gast.Call(func=gast.Attribute(value=_name(context.rt_name), attr="guard_holds", ctx=gast.Load()),
                         args=[_name(guard_name)] + [copy.deepcopy(a) for a in args], keywords=[])
    parents = context.parents(call.fdef)
    if call.op in ("primal_call", "primal_method"):
        entry = _global(tree, label + "_entry" + suffix, bound.first)
        direct = gast.Call(func=_name(entry), args=[copy.deepcopy(a) for a in args],
                           keywords=copy.deepcopy(node.keywords))
        value = direct if test is None else gast.IfExp(test=test, body=direct, orelse=node)
        up = parents.get(id(node)) or context.parents(call.fdef, full=True).get(id(node))
        if up is None or not _replace(up[0], up[1], node, value):
            return (), False
        return (entry,) + ((guard_name,) if guard_name else ()), test is not None
    found = _pair_statement(call)
    if found is None:
        return (), False
    holder, statement = found
    fwd = _global(tree, label + "_fwd" + suffix, bound.first)
    bwd = _global(tree, label + "_bwd" + suffix, bound.second)
    pair = gast.Tuple(elts=[_name(fwd), _name(bwd)], ctx=gast.Load())
    if test is not None:
        statement.value = gast.IfExp(test=test, body=pair, orelse=node)
        return (fwd, bwd, guard_name), True
    f, b = (e.id for e in statement.targets[0].elts)
    stored = context.store_counts(call.fdef)
    if stored.get(f, 0) == 1 and stored.get(b, 0) == 1 and f != b:
        renames = context.renames.setdefault(id(call.fdef), (call.fdef, {}))[1]
        renames[f], renames[b] = fwd, bwd      # the pair's names read: its functions, by name
        body = getattr(holder, parents[id(statement)][1])
        index = next(k for k, s in enumerate(body) if s is statement)
        if len(body) == 1:
            body[index] = gast.Pass()
        else:
            del body[index]
    else:
        statement.value = pair
    context._stored.pop(id(call.fdef), None)
    return (fwd, bwd), False


def _replace(parent, field_name: str, old, new) -> bool:
    value = getattr(parent, field_name)
    if value is old:
        setattr(parent, field_name, new)
        return True
    if isinstance(value, list):
        for k, item in enumerate(value):
            if item is old:
                value[k] = new
                return True
    return False


class _LazyKind:
    """A check at a call that a part (an object, a container) has the kind predicted for it:
    ``kind_of`` on the first call, then a matcher of that value's parts (sct.kinds.make_matcher)."""
    __slots__ = ("kind", "traced", "fast")

    def __init__(self, kind, traced: bool):
        self.kind = kind
        self.traced = traced
        self.fast = None

    def __call__(self, value) -> bool:
        fast = self.fast
        if fast is not None:
            return fast((value,))
        if kind_of(value, self.traced) != self.kind:
            return False
        self.fast = make_matcher((value,), (self.traced,)) or \
            (lambda a, kind=self.kind, traced=self.traced: kind_of(a[0], traced) == kind)
        return True


def _guard_source(bound: _Bound, check_callee: bool):
    """The guard of a call by name: a generated function of the call's arguments checking what the
    caller's own check does not (see the module's docstring), or None where nothing is left."""
    lines: List[str] = []
    consts: Dict[str, Any] = {"KIND_OF": kind_of, "ND": np.ndarray}
    if check_callee:
        consts["CHECK"], consts["CALLEE"] = bound.compiled.check, bound.callee
        lines.append("    if not CHECK(CALLEE): return False")
    for j, (obj, attribute, value) in enumerate(bound.identity):
        consts[f"O{j}"], consts[f"V{j}"] = obj, value
        lines.append(f"    if getattr(O{j}, {attribute!r}, None) is not V{j}: return False")
    for j, (what, cls) in enumerate(bound.conditions):
        consts[f"C{j}"] = cls
        if what == "no backward":
            lines.append(f"    if callable(getattr(C{j}, 'backward', None)): return False")
        else:
            lines.append(f"    if hasattr(C{j}, '__post_init__'): return False")
    count = len(bound.exact)
    for i, (kind, traced, exact) in enumerate(zip(bound.kinds, bound.traced, bound.exact)):
        if exact:
            continue
        consts[f"K{i}"] = kind
        if isinstance(kind, tuple) and len(kind) == 3 and kind[0] in ("dl", "nd"):
            dtype = np.dtype(kind[1])
            if kind[0] == ("dl" if traced and dtype.kind in "fc" else "nd"):
                consts[f"D{i}"] = dtype
                fast = f"(type(a{i}) is ND and a{i}.dtype is D{i} and a{i}.ndim == {kind[2]})"
                if kind[2] == 0:         # a numpy scalar (np.sum's value), a Python number when traced
                    consts[f"S{i}"] = dtype.type
                    fast = f"type(a{i}) is S{i} or " + fast
                    python = {"<f8": "float", "<c16": "complex"}.get(kind[1]) if kind[0] == "dl" else None
                    if python:
                        fast = f"type(a{i}) is {python} or " + fast
                lines.append(f"    if not ({fast}) and KIND_OF(a{i}, {traced}) != K{i}: return False")
                continue
        if isinstance(kind, tuple) and len(kind) == 3 and kind[0] == "num" and isinstance(kind[2], type):
            consts[f"T{i}"] = kind[2]
            lines.append(f"    if type(a{i}) is not T{i} and KIND_OF(a{i}, {traced}) != K{i}: return False")
            continue
        consts[f"P{i}"] = _LazyKind(kind, traced)
        lines.append(f"    if not P{i}(a{i}): return False")
    if not lines:
        return None
    params = ", ".join(f"a{i}" for i in range(count))
    source = f"def guard({params}):\n" + "\n".join(lines) + "\n    return True\n"
    namespace = dict(consts)
    exec(compile(source, f"<sct-call-guard {bound.call.label}>", "exec"), namespace)
    guard = namespace["guard"]
    guard.source = source
    return guard


def fold_checks(check, folded: List[Tuple[Any, Any]]):
    """``check(f)`` and, for each ``(callee_check, callee)``, ``callee_check(callee)``: one
    generated function, written like sct.cache.make_check's (``body``, ``consts``) so that an
    entry's hit writes it inline (sct.api.make_hit)."""
    body = getattr(check, "body", None)
    consts = getattr(check, "consts", None)
    if body is None or consts is None:
        body, consts = ["    if not CALLER_CHECK(f): return False"], {"CALLER_CHECK": check}
    body, consts = list(body), dict(consts)
    for i, (callee_check, callee) in enumerate(folded):
        consts[f"CALLEE_CHECK{i}"], consts[f"CALLEE{i}"] = callee_check, callee
        body.append(f"    if not CALLEE_CHECK{i}(CALLEE{i}): return False")
    namespace = dict(consts)
    exec(compile("def check(f):\n" + "\n".join(body) + "\n    return True\n", "<sct-guard>", "exec"), namespace)
    combined = namespace["check"]
    combined.body = body
    combined.consts = consts
    return combined


class _nothing:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def describe(records: List[CallRecord], caller: str) -> List[str]:
    """Comment lines for the calls of ``caller`` left to their first call."""
    lines = []
    for r in records:
        if not r.resolved:
            at = f" at line {r.line}" if r.line is not None else ""
            lines.append(f"# ---- {r.label}(){at} in {caller}: compiled on first call "
                         f"({r.reason or 'known at run time only'}) ----")
    return lines


hooks.lend_call_tree(resolve_call_tree, finish_call_tree, helper_tree=_helper_tree, outside_value=_outside_value,
                      missing=_MISSING, returns_holding=returns_holding)
