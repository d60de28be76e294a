"""The call tree, resolved when the caller is compiled (issue 7 item 3, issue 8 item 2).

Each call that generated code makes to a helper, method, constructor or callable object goes
through its call site (``rt.vjp_at(site, helper, mask, *args)``: sct.call_sites).  When the caller
is compiled, every site whose callee is known then (a module-level function, one in a closure
cell or global of the caller, a method of an object whose class its kind names, a class built
there) and whose arguments' kinds follow from the caller's own kinds gets the callee's generated
code now, recursively over the tree, as an entry of its site: the first run compiles nothing.

The entry is exactly the one the run-time path (``sct.transform_calls.site_miss``) would add for
those kinds: the same compiled code, from the same cache key, and the same guards.  At run time
the site still checks that the callee is the same object, the guards of its code hold and the
arguments have the predicted kinds (computed with ``kind_of`` on the first call, then by a
matcher of their parts); a call that fails a check takes the run-time path as before.  A callee
chosen at run time (a local, a value from data), arguments whose kinds are not known, and
recursive calls (a callee being compiled on this thread) stay on the run-time path.
"""
from __future__ import annotations

import inspect
import threading
import types
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

import gast
import numpy as np

from .runtime import registry
from .runtime.support import CallSite, Closure

from .kinds import kind_of, make_matcher
from .plans import NO_ADJOINT
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
                new = entry[:2] + (fast,) + entry[3:]
                self.site.entries = tuple(new if e is entry else e for e in self.site.entries)
        return True


def _retrace(kind, traced: bool):
    """The kind ``kind_of(value, traced)`` gives, in generated code, a value whose kind (as an
    argument of the caller, or a part of one) is ``kind``; None where it cannot be told.
    Arrays reach generated code as numpy arrays (dlfeval unwraps them)."""
    if not isinstance(kind, tuple) or not kind:
        return None
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
        items = tuple(_retrace(k, traced) for k in kind[2])
        return None if any(k is None for k in items) else (tag, kind[1], items)
    if tag in ("map", "obj"):
        items = tuple((key, _retrace(k, traced)) for key, k in kind[2])
        return None if any(k is None for _, k in items) else (tag, kind[1], items)
    return None


def _local_names(fdef) -> set:
    args = fdef.args
    names = {a.id for a in args.args + args.kwonlyargs + args.posonlyargs if isinstance(a, gast.Name)}
    for extra in (args.vararg, args.kwarg):
        if extra is not None:
            names.add(extra.id)
    names |= {n.id for n in gast.walk(fdef) if isinstance(n, gast.Name) and isinstance(n.ctx, (gast.Store, gast.Del))}
    names |= {n.name for n in gast.walk(fdef) if isinstance(n, gast.FunctionDef) and n is not fdef}
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
        if isinstance(base, (types.ModuleType, type, types.SimpleNamespace)):
            return getattr(base, node.attr, _MISSING)
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


def _value_kind(value, known, namespace: Dict[str, Any]):
    """The kind of what an assignment of generated code computes, where plain numpy says it
    (elementwise operators and unary ufuncs keep a float array's dtype, a reduction without
    options gives a 0-d value, ``@`` its ranks); None otherwise.  A guess that the sites check:
    a wrong one only leaves the call to its first run."""
    if isinstance(value, gast.Name):
        return known(value.id)
    if isinstance(value, gast.BinOp):
        operands = [(o, known(o.id) if isinstance(o, gast.Name) else None) for o in (value.left, value.right)]
        leaves = [_array_leaf(k) for _, k in operands]
        if type(value.op) in _ELEMENTWISE:
            if leaves[0] and leaves[1]:
                if leaves[0][0] != leaves[1][0]:
                    return None
                return ("nd", leaves[0][0], max(leaves[0][1], leaves[1][1]))
            for leaf, (other, kind) in ((leaves[0], operands[1]), (leaves[1], operands[0])):
                if leaf and _weak_scalar(other, kind):
                    return ("nd",) + leaf
            return None
        if isinstance(value.op, gast.MatMult) and leaves[0] and leaves[1] and leaves[0][0] == leaves[1][0]:
            a, b = leaves[0][1], leaves[1][1]
            if a == 0 or b == 0:
                return None
            # numpy's matmul: a 1-D operand loses its dimension (stacks of matrices keep theirs)
            rank = 0 if a == b == 1 else b - 1 if a == 1 else a - 1 if b == 1 else max(a, b)
            return ("nd", leaves[0][0], rank)
        return None
    if isinstance(value, gast.Call) and len(value.args) == 1 and not value.keywords and \
            isinstance(value.args[0], gast.Name):
        func = value.func
        op = namespace.get(func.id) if isinstance(func, gast.Name) else None
        if isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name):
            base = namespace.get(func.value.id)
            op = getattr(base, func.attr, None) if base is np else None
        leaf = _array_leaf(known(value.args[0].id))
        if leaf is None or op is None:
            return None
        if isinstance(op, np.ufunc) and op.nin == 1 and op.nout == 1 and \
                op.__name__ in ("sin", "cos", "tan", "tanh", "sinh", "cosh", "exp", "log", "sqrt",
                                "square", "negative", "arctan", "log1p", "expm1", "reciprocal"):
            return ("nd",) + leaf
        if any(op is r for r in _REDUCTIONS):
            return ("nd", leaf[0], 0)
    return None


def _generated_kinds(fdef, kinds: Dict[str, Any], namespace: Dict[str, Any]) -> Dict[str, Any]:
    """Kinds of names the generated function assigns, from their first assignment in order:
    ``effects_start = rt.effect_position()`` (an int), and values plain numpy computes from
    values of known kinds (see :func:`_value_kind`)."""
    found: Dict[str, Any] = {}

    def known(name):
        kind = kinds.get(name)
        return found.get(name) if kind is None else kind

    todo = [fdef]
    while todo:
        node = todo.pop()
        if isinstance(node, gast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], gast.Name):
            name = node.targets[0].id
            value = node.value
            if name not in found and name not in kinds:
                if isinstance(value, gast.Call) and isinstance(value.func, gast.Attribute) and \
                        value.func.attr in _INT_RESULTS and isinstance(value.func.value, gast.Name) and \
                        not value.args:
                    found[name] = _INT_KIND
                else:
                    kind = _value_kind(value, known, namespace)
                    if kind is not None:
                        found[name] = kind
            continue
        if isinstance(node, (gast.Expr, gast.Return)):
            continue
        todo.extend(reversed(list(gast.iter_child_nodes(node))))
    return found


class _Resolution:
    """Resolving the sites of one compiled function."""

    def __init__(self, namespace, kinds, version):
        self.namespace = namespace
        self.kinds = kinds
        self.version = version
        self.locals: Dict[int, Tuple[set, Dict[str, Any]]] = {}

    def local(self, fdef) -> Tuple[set, Dict[str, Any]]:
        found = self.locals.get(id(fdef))
        if found is None:
            found = self.locals[id(fdef)] = (_local_names(fdef),
                                             _generated_kinds(fdef, self.kinds, self.namespace))
        return found

    def record(self, call, compiled=None, reason="", resolved=False) -> CallRecord:
        STATS["resolved" if resolved else "dynamic"] += 1
        return CallRecord(call.label, call.line, call.op, call.site, compiled, reason, resolved)

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
        _tc._refuse_forward_mode_entry(fn)
        with _descend(fn):
            if call.op == "vjp":
                compiled = _tc.vjp_for_kinds(fn, kinds, mask)
                first, second = compiled.fwd, compiled.bwd
            else:
                compiled = _tc.primal_for_kinds(fn, kinds, mask)
                first, second = compiled.entry, None
        self.add(call, (fn, mask, None, compiled.check, self.version, first, second, fn, ()), kinds, mask)
        return self.record(call, compiled, resolved=True)

    def method(self, call, name, mask, kinds) -> CallRecord:
        receiver = kinds[0] if kinds else None
        if any(k is None for k in kinds) or not isinstance(receiver, tuple) or receiver[0] not in ("obj", "const"):
            return self.record(call, reason="receiver or argument kinds known at run time only")
        cls = receiver[1]
        if not isinstance(cls, type) or issubclass(cls, (Closure, list, tuple, dict, type)) or \
                (cls.__module__ or "").split(".")[0] in ("sct", "sct_generated", "builtins") or \
                (receiver[0] == "obj" and any(f == name for f, _ in receiver[2])):
            return self.record(call, reason="callee known at run time only")
        try:
            func = inspect.getattr_static(cls, name)
        except AttributeError:
            return self.record(call, reason="callee known at run time only")
        if type(func) is not types.FunctionType or getattr(cls, name, None) is not func:
            return self.record(call, reason="callee known at run time only")
        from .runtime.layers import Layer
        if issubclass(cls, Layer) and callable(getattr(cls, "backward", None)) and \
                name in ("predict", "forward", "__call__"):
            return self.record(call, reason="a layer with its own backward")
        if _recursive(func):
            return self.record(call, reason="a recursive call")
        with _descend(func):
            if call.op == "vjp_method":
                compiled = _tc.vjp_for_kinds(func, kinds, mask)
                first, second = compiled.fwd, compiled.bwd
            else:
                compiled = _tc.primal_for_kinds(func, kinds, mask)
                first, second = compiled.entry, None
        check = compiled.check
        if issubclass(cls, Layer):          # as site_miss: a backward added later takes over
            check = (lambda f, check=compiled.check: check(f) and not callable(getattr(cls, "backward", None)))
        self.add(call, (cls, mask, None, check, self.version, first, second, func, ()), kinds, mask)
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
            entry = (cls, mask, match, check, self.version, pair[0], pair[1], init, keywords)
            _tc._add_entry(call.site, entry)
            return self.record(call, reason="a dataclass: its fields are its arguments", resolved=True)
        if type(init) is not types.FunctionType or cls.__new__ is not object.__new__ or \
                getattr(cls, "__dictoffset__", 0) == 0:
            return self.record(call, reason="constructor known at run time only")
        # the new object (rt.new_object(cls)) before __init__ runs: an empty instance
        kinds = (kind_of(object.__new__(cls), mask[0]),) + tuple(kinds[1:])
        if any(k is None for k in kinds):
            return self.record(call, reason="argument kinds known at run time only")
        if _recursive(init):
            return self.record(call, reason="a recursive call")
        with _descend(init):
            compiled = _tc.vjp_for_kinds(init, kinds, mask, returns_self=True)
        entry = (cls, mask, None, compiled.check, self.version, compiled.fwd, compiled.bwd, init, keywords)
        self.add(call, entry, kinds, mask)
        return self.record(call, compiled, resolved=True)

    def add(self, call, entry, kinds, mask) -> None:
        match = _PredictedKinds(kinds, tuple(bool(m) for m in mask), call.site)
        entry = entry[:2] + (match,) + entry[3:]
        match.entry = entry
        _tc._add_entry(call.site, entry)


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


def resolve_call_tree(fn, calls: List, namespace: Dict[str, Any], kinds: Dict[str, Any]) -> List[CallRecord]:
    """Give each call site of ``fn``'s generated code (``calls``: sct.call_sites.SiteCall) whose
    callee and argument kinds are known now its callee's generated code (compiled now, or found
    in the cache); returns one record per site, in order.  A callee that cannot be compiled for
    the predicted kinds is left to its first call (which reports any error where it happens)."""
    if not calls:
        return []
    resolution = _Resolution(namespace, kinds, registry.rules_version())
    records = []
    code = getattr(fn, "__code__", None)
    with _descend(fn) if code is not None else _nothing():
        for call in calls:
            try:
                records.append(resolution.resolve(call))
            except Exception as exc:        # noqa: BLE001  (compiled again, and reported, on first call)
                records.append(resolution.record(call, reason=f"compiling it for the predicted kinds raised {type(exc).__name__}"))
    return records


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


hooks.lend_call_tree(resolve_call_tree)
