"""Scalar specialisation: generated code on real float64 scalars runs as Python floats.

Where the kinds of dlfeval's arguments say an input is a real float64 scalar (a 0-d float64
dlarray or array, a numpy float64), the values computed from it by arithmetic with numbers,
numpy's elementwise functions of one argument and comparisons are numpy float64 scalars.  This
pass (applied to an entry function and the sweeps it calls, after sct/optimize.py) infers
which names hold only such values, and rewrites the forward and adjoint code so that those
names hold Python floats instead:

* ``x * y``, ``x + 1.0``, ``-x``, ``x > 0.5`` stay as they are (on Python floats: about 5x
  faster than on numpy scalars); ``/`` and ``**`` go through ``rt.scalar_divide`` and
  ``rt.scalar_power``, which give numpy's inf/nan where Python would raise;
* ``np.sin(x)`` becomes ``rt.scalar_sin(x)`` (numpy's value as a Python float: ``math.sin`` is not
  numpy's bit for bit everywhere; ``math.sqrt`` where it does not raise), ``np.tanh`` ``rt.math_tanh``;
* ``rt.unbroadcast(d, like)`` of scalars is ``d``, ``rt.unbroadcast_product(a, b, like)`` is
  ``a * b``;
* an argument ``x`` of such a kind is read once as ``x_f = rt.scalar_argument(x)``
  (``float(x)``); the array itself stays where the code needs it (``rt.project(d_x, x)``);
* where a specialised value leaves the specialised code (returned, stored in a container,
  passed to a helper or a runtime function), it becomes the numpy float64 the unspecialised
  code held (``rt.to_numpy``); a value that may still be the argument itself (``y = x``
  with a loop that ran no step) becomes that argument again.

float32, complex and integer inputs are not specialised (their numpy semantics differ from
Python's floats), nor is code that is differentiated again (a sweep called through
``rt.vjp_at``, the entry of forward-over-reverse).  The tape keeps its layout; the values it
holds are Python floats.  ``SCT_SCALARS=0`` in the environment switches the pass off (and
``SCT_OPTIMIZE=0``, which gives the plain generated code).
"""
from __future__ import annotations

import copy
import os
from typing import Dict, List, Optional, Set

import gast
import numpy as np

from .ir import stop_sharing, walk_nodes, walk_nodes_list
from .optimize import _block, _is_comment, _jumps, enabled as _optimizing
from .runtime.scalar_ops import FUNCTIONS
from .scalar_elements import E, drop_shared, reads_elements, element_adjoint, element_heads, element_param, element_read, element_type

F, A, P, I, J, C, B, N, Z, O = "F", "A", "P", "I", "J", "C", "B", "N", "Z", "O"
_NUMERIC = frozenset((F, A, P, I, J, Z))
_SPEC = frozenset((F, N, Z))
_ARITH = (gast.Add, gast.Sub, gast.Mult, gast.Div, gast.Pow)
_ORDER = (gast.Lt, gast.LtE, gast.Gt, gast.GtE, gast.Eq, gast.NotEq)


def enabled() -> bool:
    """On unless SCT_SCALARS=0 (or SCT_OPTIMIZE=0: the plain generated code)."""
    return _optimizing() and os.environ.get("SCT_SCALARS", "1").strip() not in ("0", "false", "no", "off")


def param_type(kind) -> str:
    """What the value of an argument of this kind is: A (a real float64 scalar or 0-d array),
    P (a Python float), J (a Python int), E (a 1-d float64 array: sct/scalar_elements.py), O (anything else)."""
    if element_param(kind):
        return E
    if isinstance(kind, tuple) and len(kind) == 3 and kind[0] in ("dl", "nd") and kind[2] == 0:
        try:
            if np.dtype(kind[1]) == np.float64:
                return A
        except TypeError:
            return O
        return O
    if isinstance(kind, tuple) and len(kind) == 3 and kind[0] == "num":
        if kind[2] is float:
            return P
        if kind[2] is int:
            return J
    return O


# --- small helpers ---------------------------------------------------------------------------

def _load(name):
    return gast.Name(id=name, ctx=gast.Load(), annotation=None, type_comment=None)


def _rt_attr(rt_name, attr):
    return gast.Attribute(value=_load(rt_name), attr=attr, ctx=gast.Load())


def _call(func, args):
    return gast.Call(func=func, args=list(args), keywords=[])


# ``a ** n`` for an integer constant n, written inline where |a| < bound (no overflow: Python's power
# is then numpy's, pow of the same numbers), rt.scalar_power (numpy's inf and warning) elsewhere
_INLINE_POWERS = {2: 1e150, 3: 1e100}


def _inline_power(left: gast.Name, n: int, rt: str):
    """``(a ** n if -bound < a < bound else rt.scalar_power(a, n))`` for the variable ``a``: what
    ``rt.scalar_power(a, n)`` gives for every ``a`` (a nan fails the test), without its call."""
    bound = _INLINE_POWERS[n]
    test = gast.Compare(left=gast.UnaryOp(op=gast.USub(), operand=gast.Constant(value=bound, kind=None)),
                        ops=[gast.Lt(), gast.Lt()],
                        comparators=[_load(left.id), gast.Constant(value=bound, kind=None)])
    return gast.IfExp(test=test, body=gast.BinOp(left=_load(left.id), op=gast.Pow(),
                                                 right=gast.Constant(value=n, kind=None)),
                      orelse=_call(_rt_attr(rt, "scalar_power"), [_load(left.id), gast.Constant(value=n, kind=None)]))


def _is_rt(node, rt_name, *attrs) -> bool:
    return isinstance(node, gast.Attribute) and node.attr in attrs and \
        isinstance(node.value, gast.Name) and node.value.id == rt_name


def _rt_call(node, rt_name, *attrs) -> bool:
    return isinstance(node, gast.Call) and _is_rt(node.func, rt_name, *attrs)


def _pop_of(value) -> Optional[str]:
    """``L.pop()``: the list's name."""
    if isinstance(value, gast.Call) and not value.args and not value.keywords and \
            isinstance(value.func, gast.Attribute) and value.func.attr == "pop" and \
            isinstance(value.func.value, gast.Name):
        return value.func.value.id
    return None


def _append_of(stmt):
    """``L.append(v)`` as a statement: (L, v); ``L.append(rt.shape_proxy(n))`` (what a sweep reads
    only for its shape: sct/optimize.py) as (L, n): the proxy of a number is the number."""
    if isinstance(stmt, gast.Expr) and isinstance(stmt.value, gast.Call):
        c = stmt.value
        if isinstance(c.func, gast.Attribute) and c.func.attr == "append" and \
                isinstance(c.func.value, gast.Name) and len(c.args) == 1 and not c.keywords:
            v = c.args[0]
            if isinstance(v, gast.Call) and isinstance(v.func, gast.Attribute) and v.func.attr == "shape_proxy" and \
                    isinstance(v.func.value, gast.Name) and len(v.args) == 1 and not v.keywords and \
                    isinstance(v.args[0], gast.Name):
                return c.func.value.id, v.args[0]
            return c.func.value.id, v
    return None


def _statements(stmts):
    for s in stmts:
        yield s
        for field in ("body", "orelse"):
            inner = getattr(s, field, None)
            if isinstance(inner, list) and not isinstance(s, gast.FunctionDef):
                yield from _statements(inner)


_UNSUPPORTED = (gast.FunctionDef, gast.AsyncFunctionDef, gast.Lambda, gast.ClassDef, gast.Global,
                gast.Nonlocal, gast.Try, gast.With, gast.AsyncWith, gast.AsyncFor, gast.Await,
                gast.Yield, gast.YieldFrom, gast.NamedExpr, gast.ListComp, gast.SetComp,
                gast.DictComp, gast.GeneratorExp)


def _supported(fn, nodes=None) -> bool:
    for node in (nodes if nodes is not None else walk_nodes(fn)):
        if node is not fn and isinstance(node, _UNSUPPORTED):
            return False
        if isinstance(node, gast.Name) and node.id in ("locals", "vars", "eval", "exec", "float"):
            return False
    return True


# --- the types of values ----------------------------------------------------------------------

class Types:
    """Flow-insensitive types of one function's names: sets of F (numpy float64 in the
    unspecialised code), A (the argument: a float64 scalar or 0-d array), P (Python float),
    I (Python int), J (a Python int argument: not compared with floats), C (numpy bool from a
    comparison), B (Python bool), N (None), Z (the zero marker), O (other)."""

    def __init__(self, fn, params: Dict[str, Set[str]], pops: Dict[str, Dict[str, Set[str]]],
                 forced: Set[str], rt_name: str, numpy_name: Optional[str]):
        self.fn, self.rt, self.np = fn, rt_name, numpy_name
        # In a sweep, a value that is a Python float only on some paths (an adjoint from the zero
        # marker, ``0.0 * c``; an accumulator's start) may be a numpy float64 where it leaves the
        # specialised code: the numbers are the same, and the sweep hands its results on only
        # through rt.project (which gives a gradient its argument's dtype).  In the entry, such
        # a value leaves only by being returned from dlfeval (a 0-d dlarray either way) or to
        # a sweep (ArgumentAliases.alias_violations).
        self.pops = pops
        self.forced = forced
        self.assigns: List = []
        self.stored: Set[str] = set()
        self.types: Dict[str, Set[str]] = {}
        self._collect(fn.body)
        # an argument read as a float (A) only where the body never rebinds it
        self.params = {p: ({O} if t in ({A}, {E}) and p in self.stored else set(t)) for p, t in params.items()}
        for a in fn.args.args + fn.args.kwonlyargs + fn.args.posonlyargs:
            self.stored.add(a.id)
            self.params.setdefault(a.id, {O})
        for a in (fn.args.vararg, fn.args.kwarg):
            if a is not None:
                self.stored.add(a.id)
                self.types[a.id] = {O}
                self.params[a.id] = {O}
        for p, t in self.params.items():
            self.types[p] = set(t)
        self._solve()

    def _collect(self, stmts):
        for s in _statements(stmts):
            if isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], gast.Name):
                self.assigns.append((s.targets[0].id, s.value))
                self.stored.add(s.targets[0].id)
                continue
            if isinstance(s, gast.For):
                iter_ = s.iter
                is_range = isinstance(iter_, gast.Call) and isinstance(iter_.func, gast.Name) and \
                    iter_.func.id == "range" and isinstance(s.target, gast.Name)
                for n in gast.walk(s.target):
                    if isinstance(n, gast.Name):
                        self.assigns.append((n.id, I if is_range else O))
                        self.stored.add(n.id)
                continue
            parts = [s] if not isinstance(s, (gast.If, gast.While)) else [s.test]
            for part in parts:
                for n in gast.walk(part):
                    if isinstance(n, gast.Name) and isinstance(n.ctx, (gast.Store, gast.Del)):
                        self.assigns.append((n.id, O))
                        self.stored.add(n.id)

    def _solve(self):
        for _ in range(200):
            changed = False
            for target, value in self.assigns:
                t = {O} if target in self.forced else \
                    ({value} if isinstance(value, str) else self.value_type(target, value))
                t = {F if a == A else a for a in t}         # a copy of an argument is its float
                old = self.types.setdefault(target, set())
                if not t <= old:
                    old |= t
                    changed = True
            if not changed:
                return
        for k in self.types:                 # no fixed point (cannot happen: finite lattice)
            self.types[k] = {O}

    def value_type(self, target, value) -> Set[str]:
        lst = _pop_of(value)
        if lst is not None and lst in self.pops:
            return set(self.pops[lst].get(target, {O}))
        return self.of(value)

    def name(self, name: str) -> Set[str]:
        if name in self.forced:
            return {O}
        if name in self.types:
            return self.types[name]
        return set() if name in self.stored else {O}

    def of(self, e) -> Set[str]:
        if isinstance(e, gast.Name):
            return self.name(e.id)
        if isinstance(e, gast.Constant):
            v = e.value
            if isinstance(v, bool):
                return {B}
            if isinstance(v, int):
                return {I} if abs(v) < 2 ** 53 else {O}
            if isinstance(v, float):
                return {P}
            if v is None:
                return {N}
            return {O}
        if _is_rt(e, self.rt, "ZERO"):
            return {Z}
        if isinstance(e, gast.BinOp):
            if not isinstance(e.op, _ARITH):
                return {O}
            lt, rt_ = self.of(e.left) - {N}, self.of(e.right) - {N}
            out = {_combine(a, b, e.op) for a in lt for b in rt_}
            if isinstance(e.op, gast.Div) and F in out and lt & _PYTHON and rt_ & _PYTHON:
                # both operands may be Python numbers in the unspecialised code (a float that is
                # still its start ``s = 0.0`` where a loop ran no step, ``s / n``): Python's ``/``
                # then raises ZeroDivisionError where numpy's float64 gives inf or nan, and the
                # specialised code cannot tell the two apart (both are Python floats there), so
                # the division stays unspecialised, as a power of Python numbers does (_combine):
                # its operands are then the plain code's values (ArgumentAliases: a mixed name
                # read outside specialised code is not specialised)
                out.add(O)
            return out
        if isinstance(e, gast.UnaryOp):
            if not isinstance(e.op, gast.USub):
                return {O}
            return {{F: F, A: F, P: P, I: I, J: I, Z: P}.get(a, O) for a in self.of(e.operand) - {N}}
        if isinstance(e, gast.Compare):
            if len(e.ops) != 1 or not isinstance(e.ops[0], _ORDER):
                return {O}
            both = (self.of(e.left) | self.of(e.comparators[0])) - {N}
            if both and both <= _NUMERIC - {J} and both & {F, A}:
                # (an int argument may be beyond 2**53, compared exactly by Python)
                lt, rt_ = self.of(e.left) - {N}, self.of(e.comparators[0]) - {N}
                for side, ts, other in ((e.left, lt, rt_), (e.comparators[0], rt_, lt)):
                    if I in ts and not _int_constant(side) and not (ts == {I} and other <= {F, A}):
                        return {O}  # (an int computed at run time, against a Python number too)
                return {C}
            if both and both <= {P, I, J}:
                return {B}         # Python numbers: a Python bool either way
            return {O}
        if isinstance(e, gast.Call) and not e.keywords:
            f = e.func
            if self.np is not None and isinstance(f, gast.Attribute) and isinstance(f.value, gast.Name) and \
                    f.value.id == self.np and f.attr in _NUMPY and len(e.args) == 1:
                t = self.of(e.args[0]) - {N}
                return {F} if t and t <= {F, A, P} else {O}
            if _rt_call(e, self.rt, "unbroadcast") and len(e.args) == 2:
                d, like = (self.of(a) - {N} for a in e.args)
                return set(d) if like <= {F, A} and d <= {F, A, P, Z} else {O}
            if _rt_call(e, self.rt, "concat_head", "concat_tail") and len(e.args) == 3:
                d, a, b = (self.of(x) - {N} for x in e.args)   # ``a + b`` of numbers: unbroadcast
                return set(d) if a <= _NUMERIC and b <= _NUMERIC and d <= {F, A, P, Z} else {O}
            if _rt_call(e, self.rt, "unbroadcast_product") and len(e.args) == 3:
                a, b, like = (self.of(x) - {N} for x in e.args)
                if like <= {F, A} and a <= _NUMERIC and b <= _NUMERIC:
                    return {_combine(u, v, gast.Mult()) for u in a for v in b}
                return {O}
            if _rt_call(e, self.rt, "seed") and len(e.args) == 1:
                t = self.of(e.args[0]) - {N}
                return ({F} | (t & {P})) if t and t <= {F, A, P} and t & {F, A} else {O}
        if isinstance(e, gast.Subscript):
            return element_type(self, e)          # x[i] of a float64 vector (sct/scalar_elements.py)
        return {O}

    def spec(self, name: str) -> bool:
        """Whether ``name`` holds, in the specialised code, a Python float (or None, or the zero
        marker) where the unspecialised code held a numpy float64, or a Python bool for a numpy bool."""
        if name in self.forced:
            return False
        t = self.types.get(name)
        if not t or self.params.get(name) == {A}:
            return False
        return (t <= _SPEC | {P} and F in t) or (C in t and t <= {C, B})

    def mixed(self, name: str) -> bool:
        """A specialised name that may hold a Python float (bool) in the unspecialised code too
        (``s = 0.0`` before a loop adding to it)."""
        return self.spec(name) and bool(self.types[name] & {P, B})


_NUMPY = dict(FUNCTIONS, abs="math_fabs", absolute="math_fabs", fabs="math_fabs")
_PYTHON = frozenset((P, I, J))     # Python numbers in the unspecialised code too


def _int_constant(e) -> bool:
    """An int written in the code (``3``, ``-1``): below 2**53 where typed I (Types.of)."""
    if isinstance(e, gast.UnaryOp) and isinstance(e.op, (gast.USub, gast.UAdd)):
        e = e.operand
    return isinstance(e, gast.Constant) and type(e.value) is int


def _plain_number(t) -> bool:
    """Python ints or floats (or None) in the unspecialised code as well: passed on as they are."""
    return bool(t) and t <= {P, I, J, N} and bool(t - {N})


def _combine(a: str, b: str, op) -> str:
    if a not in _NUMERIC or b not in _NUMERIC:
        return O
    if a in (F, A) or b in (F, A):
        return F
    pa, pb = ({Z: P, J: I}.get(a, a)), ({Z: P, J: I}.get(b, b))
    if isinstance(op, gast.Pow):
        return O
    if pa == I and pb == I:
        return P if isinstance(op, gast.Div) else I
    return P


# --- the pass -------------------------------------------------------------------------------

class ArgumentAliases:
    """The entry's argument aliases: names that may hold an argument array itself, and the uses of
    them (and of the arguments) that must stay exact when the scalars are specialised."""
    def __init__(self, owner: "Specialiser"):
        self.entry = owner.entry
        self.nodes = owner.nodes
        self.sweep_calls = owner.sweep_calls
        self.rt = owner.rt

    def taints(self, types: "Types") -> Dict[str, Set[str]]:
        """Names that may hold an argument itself (``y = x``, copied on): name -> arguments."""
        taint: Dict[str, Set[str]] = {p: {p} for p, t in types.params.items() if t == {A}}
        for _ in range(100):
            changed = False
            for target, value in types.assigns:
                src = None
                if isinstance(value, gast.Name):
                    src = value.id
                elif _rt_call(value, self.rt, "unbroadcast") and len(value.args) == 2 and \
                        isinstance(value.args[0], gast.Name):
                    src = value.args[0].id
                if src in taint and not taint[src] <= taint.get(target, set()):
                    taint.setdefault(target, set()).update(taint[src])
                    changed = True
            if not changed:
                break
        return taint

    def alias_violations(self, types: "Types", tapes, ptypes, sweep_info) -> Set[str]:
        taint = self.taints(types)
        watched = {n for n in taint if n in types.params or types.spec(n)} | \
            {n for n in types.types if types.mixed(n)}
        safe: Set[int] = set()          # loads where an argument (alias) may appear as it is
        tests: Set[int] = set()         # loads whose truth only is read
        returned = self.returned_tuples(types)
        for s in _statements(self.entry.body):
            if isinstance(s, gast.Return) and s.value is not None:
                safe |= self.top_names(s.value)
            if isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], gast.Name):
                v = s.value
                if s.targets[0].id in returned:
                    safe |= self.top_names(v)
                if types.spec(s.targets[0].id):
                    safe |= {id(n) for n in gast.walk(v) if isinstance(n, gast.Name)}
                    if _truth(types.types[s.targets[0].id]):
                        tests |= {id(n) for n in gast.walk(v) if isinstance(n, gast.Name)}
                if isinstance(v, gast.Call) and isinstance(v.func, gast.Name) and v.func.id in self.sweep_calls:
                    safe |= {id(a) for a in v.args if isinstance(a, gast.Name)}
                if _rt_call(v, self.rt, "project", "unbroadcast"):
                    safe |= {id(a) for a in v.args[1:] if isinstance(a, gast.Name)}
            app = _append_of(s)
            if app is not None and app[0] in tapes and isinstance(app[1], gast.Name):
                safe.add(id(app[1]))
            if isinstance(s, (gast.If, gast.While)) and s.test is not None:
                for part in _truth_parts(s.test):
                    if _truth(types.of(part)):
                        safe |= {id(n) for n in gast.walk(part) if isinstance(n, gast.Name)}
                        tests |= {id(n) for n in gast.walk(part) if isinstance(n, gast.Name)}
        operands: Set[int] = set()       # operands of operators: read, never written to
        for node in self.nodes(self.entry):
            if isinstance(node, gast.BinOp):
                operands |= {id(node.left), id(node.right)}
            elif isinstance(node, gast.UnaryOp):
                operands.add(id(node.operand))
            elif isinstance(node, gast.Compare):
                operands |= {id(node.left)} | {id(c) for c in node.comparators}
        bad = set()
        for node in self.nodes(self.entry):
            if isinstance(node, gast.Name) and isinstance(node.ctx, gast.Load) and node.id in watched and \
                    id(node) not in safe:
                if id(node) in operands and not types.mixed(node.id):
                    continue          # the argument itself, or the numpy float64 it became
                bad.add(node.id)
            elif isinstance(node, gast.Name) and isinstance(node.ctx, gast.Load) and id(node) not in tests and \
                    B in types.types.get(node.id, ()) and types.spec(node.id):
                bad.add(node.id)      # a Python or a numpy bool: read only as a test
        for n in list(bad):
            if n in types.params:          # an argument that may be written: not read as a float
                ptypes[n] = {O}
                bad.discard(n)
                bad.add("\0param")
        for n, ps in taint.items():       # an alias of more than one argument: no restoring
            if len(ps) > 1 and n not in types.params and types.spec(n):
                bad.add(n)
        return bad

    def returned_tuples(self, types) -> Set[str]:
        """Names assigned a tuple and read only by ``return name``."""
        loads: Dict[str, int] = {}
        ret: Dict[str, int] = {}
        for node in self.nodes(self.entry):
            if isinstance(node, gast.Name) and isinstance(node.ctx, gast.Load):
                loads[node.id] = loads.get(node.id, 0) + 1
        for s in _statements(self.entry.body):
            if isinstance(s, gast.Return) and isinstance(s.value, gast.Name):
                ret[s.value.id] = ret.get(s.value.id, 0) + 1
        return {n for n, k in ret.items() if loads.get(n) == k}

    @staticmethod
    def top_names(value) -> Set[int]:
        if isinstance(value, gast.Name):
            return {id(value)}
        if isinstance(value, gast.Tuple):
            return {id(e) for e in value.elts if isinstance(e, gast.Name)}
        return set()


class Specialiser:
    def __init__(self, functions, entry: str, param_kinds: Dict, rt_name: str, numpy_name: Optional[str]):
        self.functions = [f for f in functions if isinstance(f, gast.FunctionDef)]
        self.by_name = {f.name: f for f in self.functions}
        self.entry = self.by_name.get(entry)
        self.param_kinds = param_kinds
        self.rt = rt_name
        self.np = numpy_name
        self._walks: Dict[int, list] = {}
        self._taken: Optional[Set[str]] = None
        self.rewritten: Set[str] = set()

    @property
    def taken(self) -> Set[str]:
        """Every name of the functions (found by ``run`` before it rewrites anything)."""
        if self._taken is None:
            names = set()
            for f in self.functions:
                names |= {n.id for n in self.nodes(f) if isinstance(n, gast.Name)}
            self._taken = names
        return self._taken

    def nodes(self, fn) -> list:
        """Every node of ``fn`` but the context and operator leaves, which no caller looks for
        (``sct.ir.walk_nodes``: ``gast.walk``'s order; walked once, again after a rewrite)."""
        found = self._walks.get(id(fn))
        if found is None or found[0] is not fn:
            found = self._walks[id(fn)] = (fn, walk_nodes_list(fn))
        return found[1]

    def fresh(self, base: str) -> str:
        name = base + "_f"
        k = 1
        while name in self.taken:
            name = f"{base}_f{k}"
            k += 1
        self.taken.add(name)
        return name

    # which module functions are sweeps: called (only) from the entry, by name
    def sweeps(self) -> Dict[str, List[gast.Call]]:
        calls: Dict[str, List[gast.Call]] = {}
        bad: Set[str] = set()
        for f in self.functions:
            call_funcs = set()
            for node in self.nodes(f):
                if isinstance(node, gast.Call) and isinstance(node.func, gast.Name) and \
                        node.func.id in self.by_name:
                    call_funcs.add(id(node.func))
                    if f is self.entry and not node.keywords and \
                            not any(isinstance(a, gast.Starred) for a in node.args):
                        calls.setdefault(node.func.id, []).append(node)
                    else:
                        bad.add(node.func.id)
            for node in self.nodes(f):
                if isinstance(node, gast.Name) and node.id in self.by_name and id(node) not in call_funcs:
                    bad.add(node.id)         # passed as a value (rt.vjp_at): differentiated again
        return {k: v for k, v in calls.items() if k not in bad and k != self.entry.name and
                len(self.by_name[k].args.args) >= max(len(c.args) for c in v) and
                not self.by_name[k].args.vararg and not self.by_name[k].args.kwonlyargs and
                not self.by_name[k].args.posonlyargs and _supported(self.by_name[k], self.nodes(self.by_name[k]))}

    def tapes(self, fn) -> Set[str]:
        """Lists of ``fn`` made once as ``[]`` and used only by ``L.append(v)`` statements and
        ``list(L)`` as an argument of a sweep's call (the generated tapes)."""
        made: Dict[str, int] = {}
        for s in _statements(fn.body):
            if isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], gast.Name):
                t = s.targets[0].id
                empty = isinstance(s.value, gast.List) and not s.value.elts
                made[t] = made.get(t, 0) + (1 if empty else 100)
        ok = {t for t, n in made.items() if n == 1}
        allowed = set()
        for s in _statements(fn.body):
            app = _append_of(s)
            if app is not None:
                allowed.add(id(s.value.func.value))
        for node in self.nodes(fn):
            if isinstance(node, gast.Call) and isinstance(node.func, gast.Name) and node.func.id in self.sweep_calls:
                for a in node.args:
                    if isinstance(a, gast.Call) and isinstance(a.func, gast.Name) and a.func.id == "list" and \
                            len(a.args) == 1 and isinstance(a.args[0], gast.Name) and not a.keywords:
                        allowed.add(id(a.args[0]))
        for node in self.nodes(fn):
            if isinstance(node, gast.Name) and node.id in ok and isinstance(node.ctx, gast.Load) and \
                    id(node) not in allowed:
                ok.discard(node.id)
        if any(isinstance(n, gast.Name) and n.id == "list" and isinstance(n.ctx, gast.Store)
               for n in self.nodes(fn)):
            return set()
        return ok

    def run(self) -> None:
        if self.entry is None or not _supported(self.entry, self.nodes(self.entry)):
            return
        params = [a.id for a in self.entry.args.args]
        ptypes = {p: {param_type(self.param_kinds.get(p))} for p in params}
        if not any(t == {A} or t == {E} for t in ptypes.values()):
            return
        drop_shared(self, ptypes)          # sct/scalar_elements.py
        if not any(t == {A} or t == {E} for t in ptypes.values()):
            return
        # The entry's types with no name forced: where no value of the entry is a specialised
        # float, none is with names forced either (forcing a name makes its type {O}, and an O
        # reaching a value's type leaves no F in it), so ``reads_elements`` below would be False
        # whatever the plan: nothing more to do (most functions of arrays).
        entry_types = Types(self.entry, ptypes, {}, set(), self.rt, self.np)
        if not reads_elements(entry_types, ptypes):
            return
        self.taken          # the names as they are before any rewrite
        self.sweep_calls = self.sweeps()
        tapes = self.tapes(self.entry)
        forced: Set[str] = set()
        for round_ in range(20):
            if round_:
                entry_types = Types(self.entry, ptypes, {}, forced, self.rt, self.np)
            ok, violations, sweep_info = self.plan(entry_types, tapes, ptypes)
            if ok:
                break
            forced |= violations
        else:
            return
        if not reads_elements(entry_types, ptypes):
            return                           # vectors only, none of their elements read as floats
        for fn in self.functions:           # (rewritten below: not walked once for the passes after)
            stop_sharing(fn)
        self.rewrite_entry(entry_types, tapes, sweep_info)
        self.rewritten = {self.entry.name} | set(sweep_info)
        _returned_floats(self.entry, self.rt)
        self._walks.clear()
        self.drop_unread_tape_entries(tapes, sweep_info)
        for fn in [self.entry] + [self.by_name[name] for name in sweep_info]:
            DeadZeros(self.rt).run(fn)

    def drop_unread_tape_entries(self, tapes, sweep_info) -> None:
        """A value pushed on a tape only to be popped back into its name by sweeps that never
        read that name: neither pushed nor popped.  (The sweeps pop each name's values back into
        the same name, in the reverse order of the pushes, so leaving out every push and pop of
        one name leaves the others' order as it was.)"""
        for tape in tapes:
            receivers = []
            for name, (sweep_types, tape_params) in sweep_info.items():
                ps = [p for p, t in tape_params.items() if t == tape]
                if ps:
                    receivers.append((self.by_name[name], ps))
            bases = {id(st.value.func.value) for st in _statements(self.entry.body) if _append_of(st) is not None}
            passed = sum(1 for node in self.nodes(self.entry) if isinstance(node, gast.Name) and
                         node.id == tape and isinstance(node.ctx, gast.Load) and id(node) not in bases)
            if not receivers or passed != sum(len(self.sweep_calls[fn.name]) for fn, _ in receivers):
                continue
            pushed = {app[1].id for app in map(_append_of, _statements(self.entry.body))
                      if app is not None and app[0] == tape and isinstance(app[1], gast.Name)}
            unread = set(pushed)
            for fn, ps in receivers:
                pops = self.pop_lists(fn, ps)
                if pops is None:
                    unread = set()
                    break
                unread -= {n.id for n in self.nodes(fn) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load)}
            if not unread:
                continue
            self.entry.body = _drop(self.entry.body, lambda st: (lambda app: app is not None and app[0] == tape and
                                    isinstance(app[1], gast.Name) and app[1].id in unread)(_append_of(st)))
            for fn, ps in receivers:
                lists = self.pop_lists(fn, ps)
                fn.body = _drop(fn.body, lambda st: isinstance(st, gast.Assign) and len(st.targets) == 1 and
                                isinstance(st.targets[0], gast.Name) and st.targets[0].id in unread and
                                _pop_of(st.value) in lists)

    def pop_lists(self, fn, params) -> Optional[Set[str]]:
        """The names the sweep pops the tape from: its parameter, or None where the parameter is
        used otherwise than by ``.pop()`` (and one copy ``tape = rt.copy_list(tape)``)."""
        names = set(params)
        nodes = self.nodes(fn)
        for node in nodes:
            if isinstance(node, gast.Name) and node.id in names and isinstance(node.ctx, gast.Store):
                return None
        pop_bases = {id(node.func.value) for node in nodes if isinstance(node, gast.Call) and _pop_of(node) in names}
        for node in nodes:
            if isinstance(node, gast.Name) and node.id in names and id(node) not in pop_bases:
                if not isinstance(node.ctx, gast.Param) and node not in fn.args.args:
                    return None
        return names

    def plan(self, types: "Types", tapes, ptypes):
        """The sweeps' types and the names whose plain uses would be wrong (a value that may be
        the argument array itself, used where it could be written to)."""
        sweep_info = {}
        for name, calls in self.sweep_calls.items():
            fn = self.by_name[name]
            pparams = [a.id for a in fn.args.args]
            st: Dict[str, Set[str]] = {}
            tape_params = {}
            for call in calls:
                for p, a in zip(pparams, call.args):
                    t = self.arg_type(a, types, tapes)
                    if t == "tape":
                        tape_params[p] = a.args[0].id
                        t = {O}
                    st.setdefault(p, set()).update(t)
            for p in pparams:
                st.setdefault(p, {O})
            pops = {p: self.tape_types(tape, types) for p, tape in tape_params.items()}
            sweep_types = Types(fn, st, pops, set(), self.rt, self.np)
            sweep_info[name] = (sweep_types, tape_params)
        # uses of argument aliases and of the arguments themselves that must stay exact
        violations = ArgumentAliases(self).alias_violations(types, tapes, ptypes, sweep_info)
        return not violations, violations, sweep_info

    def arg_type(self, a, types, tapes):
        if isinstance(a, gast.Call) and isinstance(a.func, gast.Name) and a.func.id == "list" and \
                len(a.args) == 1 and isinstance(a.args[0], gast.Name) and a.args[0].id in tapes:
            return "tape"
        if isinstance(a, gast.Name):
            if types.params.get(a.id) in ({A}, {E}):
                return set(types.params[a.id])
            if types.spec(a.id) or _plain_number(types.name(a.id)):
                return set(types.name(a.id))
        return {O}

    def tape_types(self, tape: str, types: "Types") -> Dict[str, Set[str]]:
        """What a name popped from the tape held when pushed: its own type (the generated code
        pushes a name's value before overwriting it and pops it back into the same name)."""
        out: Dict[str, Set[str]] = {}
        for s in _statements(self.entry.body):
            app = _append_of(s)
            if app is not None and app[0] == tape and isinstance(app[1], gast.Name):
                n = app[1].id
                t = types.name(n)
                out[n] = set(t) if types.spec(n) or _plain_number(t) else {O}
        return out

    # --- rewriting ----------------------------------------------------------------------------

    def rewrite_entry(self, types: "Types", tapes, sweep_info) -> None:
        taint = ArgumentAliases(self).taints(types)
        floats: Dict[str, str] = {}
        Rewriter(self, self.entry, types, tapes, floats, taint, sweep_info, entry_pops=None).run()
        for name, (sweep_types, tape_params) in sweep_info.items():
            fn = self.by_name[name]
            sweep_floats: Dict[str, str] = {}
            spec_entry = {n for n in types.types if types.spec(n)}
            Rewriter(self, fn, sweep_types, set(), sweep_floats, {}, {}, entry_pops=(tape_params, spec_entry)).run()


# calls that run no user code and leave numpy's error state and the warnings filters as they are
_STATE_KEEPING_BUILTINS = frozenset((
    "len", "range", "int", "float", "bool", "abs", "min", "max", "sum", "round", "isinstance", "enumerate",
    "zip", "list", "tuple", "dict", "reversed", "sorted", "divmod", "type", "str", "repr", "any", "all",
    "set", "frozenset", "pow"))
_STATE_SETTERS = frozenset(("seterr", "seterrcall", "errstate", "simplefilter", "filterwarnings",
                            "resetwarnings", "catch_warnings"))


def _may_change_fp_state(stmt, rt: str, np_name: Optional[str], by_name, seen=None) -> bool:
    """Whether a simple statement calls code that may change numpy's error state or the warnings
    filters (``np.seterr(over="raise")``, ``warnings.simplefilter("error")``, either in a helper,
    compiled or not): code sct did not compile, a function of the user's, a setter itself; a
    function generated with the entry (``by_name``: a sweep) where its own code does."""
    from .recomputed import USER_CODE_RT
    for n in gast.walk(stmt):
        if not isinstance(n, gast.Call):
            continue
        f = n.func
        if isinstance(f, gast.Name):
            if f.id in by_name:
                seen = set() if seen is None else seen
                if f.id not in seen:
                    seen.add(f.id)
                    if _may_change_fp_state(by_name[f.id], rt, np_name, by_name, seen):
                        return True
            elif f.id not in _STATE_KEEPING_BUILTINS:
                return True
        elif isinstance(f, gast.Attribute):
            if isinstance(f.value, gast.Name) and f.value.id == rt:
                if f.attr in USER_CODE_RT or f.attr in ("primal_call_at", "primal_method_at"):
                    return True
            elif f.attr in _STATE_SETTERS:
                return True
    return False


def _state_checks(stmts, witnesses, rt: str, np_name: Optional[str], by_name):
    """``rt.scalar_state_kept(x_f, ...)`` after each statement of the entry that may change numpy's
    error state or the warnings filters (``_may_change_fp_state``): the specialised code computes
    with Python floats only where the state at the call let them stand for numpy's float64s
    (runtime/scalar_ops.py _floats_allowed); one that then asks numpy to raise (np.seterr(over=
    "raise") in the function) is refused there, where numpy's scalars would raise and Python's
    floats would give inf silently."""
    out = []
    for s in stmts:
        for field in ("body", "orelse"):
            inner = getattr(s, field, None)
            if isinstance(s, (gast.If, gast.For, gast.While)) and inner:
                setattr(s, field, _state_checks(inner, witnesses, rt, np_name, by_name))
        out.append(s)
        if isinstance(s, (gast.Assign, gast.Expr, gast.AugAssign, gast.AnnAssign)) and not _is_comment(s) and \
                _may_change_fp_state(s, rt, np_name, by_name):
            out.append(gast.Expr(value=_call(_rt_attr(rt, "scalar_state_kept"), [_load(w) for w in witnesses])))
    return out


class Rewriter:
    def __init__(self, owner: Specialiser, fn, types: Types, tapes, floats, taint, sweep_info, entry_pops):
        self.o, self.fn, self.t = owner, fn, types
        self.tapes, self.floats, self.taint = tapes, floats, taint
        self.sweep_info = sweep_info
        self.entry_pops = entry_pops
        self.rt = owner.rt
        self.elements: Dict[str, str] = {}     # E argument -> its name for element reads

    def run(self):
        self.fn.body = self.block(self.fn.body)
        head = element_heads(self)
        if self.entry_pops is None:
            witnesses = [self.floats[a.id] for a in self.fn.args.args if a.id in self.floats] + \
                [self.elements[a.id] for a in self.fn.args.args if a.id in self.elements]
            if witnesses:
                self.fn.body = _state_checks(self.fn.body, witnesses, self.rt, self.o.np, self.o.by_name)
        for a in self.fn.args.args:
            if a.id in self.floats:
                s = gast.Assign(targets=[gast.Name(id=self.floats[a.id], ctx=gast.Store(), annotation=None,
                                                   type_comment=None)],
                                value=_call(_rt_attr(self.rt, "scalar_argument"), [_load(a.id)]),
                                type_comment=None)
                head.append(s)
        if head:
            self.fn.body = head + self.fn.body

    def float_of(self, param: str) -> str:
        if param not in self.floats:
            self.floats[param] = self.o.fresh(param)
        return self.floats[param]

    def is_float_param(self, name: str) -> bool:
        return self.t.params.get(name) == {A} and name not in self.t.forced

    def argument_of(self, e):
        """An expression giving the argument array where the value of ``e`` may be it, else None."""
        if not isinstance(e, gast.Name):
            return None
        if self.is_float_param(e.id):
            return _load(e.id)
        params = self.taint.get(e.id)
        if params and len(params) == 1:
            (p,) = params
            if self.is_float_param(p):
                return gast.IfExp(test=gast.Compare(left=_load(e.id), ops=[gast.Is()],
                                                    comparators=[_load(self.float_of(p))]),
                                  body=_load(p), orelse=gast.Constant(value=None, kind=None))
        return None

    # expressions computed as Python floats
    def spec(self, e):
        t = self.t
        if isinstance(e, gast.Name):
            if self.is_float_param(e.id):
                return _load(self.float_of(e.id))
            return e
        if isinstance(e, gast.BinOp):
            ty = t.of(e)
            if F not in ty:
                return e
            left, right = self.spec(e.left), self.spec(e.right)
            if isinstance(e.op, gast.Div):
                if isinstance(right, gast.Constant) and type(right.value) in (int, float) and right.value != 0:
                    return gast.BinOp(left=left, op=e.op, right=right)
                return _call(_rt_attr(self.rt, "scalar_divide"), [left, right])
            if isinstance(e.op, gast.Pow):
                arg = self.argument_of(e.left)
                if arg is not None:        # numpy's power of a 0-d array is not pow (x ** 0.5)
                    return _call(_rt_attr(self.rt, "scalar_power_of"), [arg, left, right])
                arg = self.argument_of(e.right)
                if arg is not None:        # nor is its power to a 0-d array (1.7 ** x: an ulp)
                    return _call(_rt_attr(self.rt, "scalar_power_to"), [arg, left, right])
                if isinstance(left, gast.Name) and isinstance(right, gast.Constant) and \
                        type(right.value) is int and right.value in _INLINE_POWERS:
                    return _inline_power(left, right.value, self.rt)
                return _call(_rt_attr(self.rt, "scalar_power"), [left, right])
            return gast.BinOp(left=left, op=e.op, right=right)
        if isinstance(e, gast.UnaryOp):
            if F not in t.of(e):
                return e
            return gast.UnaryOp(op=e.op, operand=self.spec(e.operand))
        if isinstance(e, gast.Compare):
            return gast.Compare(left=self.compared(e.left), ops=e.ops, comparators=[self.compared(e.comparators[0])])
        if isinstance(e, gast.Call):
            f = e.func
            if isinstance(f, gast.Attribute) and isinstance(f.value, gast.Name) and f.value.id == self.o.np:
                return _call(_rt_attr(self.rt, _NUMPY[f.attr]), [self.spec(e.args[0])])
            if _rt_call(e, self.rt, "unbroadcast", "concat_head", "concat_tail"):
                return self.spec(e.args[0])
            if _rt_call(e, self.rt, "unbroadcast_product"):
                return gast.BinOp(left=self.spec(e.args[0]), op=gast.Mult(), right=self.spec(e.args[1]))
            if _rt_call(e, self.rt, "seed"):
                # (always the call: it notes whether y is finite for the sweep's NaN refusal; was
                # ``1.0 if y.__class__ is float else ...`` inline, which left the flag of an earlier
                # sweep: a silent NaN gradient of a finite y, np.sqrt(x) * 0.0 + x at x = 0)
                return _call(_rt_attr(self.rt, "scalar_seed"), [self.spec(e.args[0])])
        if isinstance(e, gast.Subscript):
            return element_read(self, e)
        return e

    def compared(self, e):
        """An operand of a specialised comparison: an int computed at run time (``k = k * 2`` in a
        loop, a factorial) as the float numpy converts it to (Python compares a float with an int
        exactly, numpy with the int rounded to float64: they differ beyond 2**53); the other
        operand is then a numpy float64 in the unspecialised code (Types.of)."""
        out = self.spec(e)
        if not _int_constant(e) and self.t.of(e) - {N} == {I}:
            return _call(_rt_attr(self.rt, "builtin_float"), [out])
        return out

    def test(self, e):
        """The test of an ``if`` or ``while``: only its truth is read, so comparisons joined by
        ``and``/``or``/``not`` may give Python bools."""
        if _truth(self.t.of(e)):
            return self.spec(e)
        if isinstance(e, gast.BoolOp):
            e.values = [self.test(v) for v in e.values]
            return e
        if isinstance(e, gast.UnaryOp) and isinstance(e.op, gast.Not):
            e.operand = self.test(e.operand)
            return e
        return self.plain(e)

    # expressions left as they are: specialised values in them become numpy's again
    def plain(self, e):
        rw = self

        class Back(gast.NodeTransformer):
            def visit_Compare(self, node):
                if len(node.ops) == 1 and isinstance(node.ops[0], (gast.Is, gast.IsNot)) and \
                        isinstance(node.left, gast.Name) and _is_rt(node.comparators[0], rw.rt, "ZERO"):
                    return node          # the zero marker passes through to_numpy as it is
                return self.generic_visit(node)

            def visit_Call(self, node):
                if _rt_call(node, rw.rt, "project") and len(node.args) == 2 and not node.keywords and \
                        all(isinstance(a, gast.Name) for a in node.args) and rw.t.spec(node.args[0].id) and \
                        rw.t.params.get(node.args[1].id) == {A} and C not in rw.t.types[node.args[0].id]:
                    node.func.attr = "scalar_project"     # the gradient of a float64 scalar argument
                    return node
                k = element_adjoint(rw, node)      # a float's adjoint into a float64 vector's
                if k is not None:
                    node.args = [a if j == k else self.visit(a) for j, a in enumerate(node.args)]
                    return node
                return self.generic_visit(node)

            def visit_Name(self, node):
                if not isinstance(node.ctx, gast.Load):
                    return node
                return rw.back(node)

        return Back().visit(e)

    def back(self, node):
        name = node.id
        if not self.t.spec(name):
            return node
        if C in self.t.types[name]:
            return _call(_rt_attr(self.rt, "to_numpy_bool"), [node])
        out = _call(_rt_attr(self.rt, "to_numpy"), [node])
        params = self.taint.get(name)
        if params:                    # still the argument itself where no step changed it
            (p,) = params
            if self.is_float_param(p):
                return gast.IfExp(test=gast.Compare(left=_load(name), ops=[gast.Is()],
                                                    comparators=[_load(self.float_of(p))]),
                                  body=_load(p), orelse=out)
        return out

    def block(self, stmts):
        return [self.statement(s) for s in stmts]

    def statement(self, s):
        t = self.t
        if isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], gast.Name):
            target = s.targets[0].id
            lst = _pop_of(s.value)
            if lst is not None and self.entry_pops is not None and lst in self.entry_pops[0]:
                if not t.spec(target) and target in self.entry_pops[1]:
                    s.value = _call(_rt_attr(self.rt, "to_numpy"), [s.value])
                return s
            if t.spec(target):
                s.value = self.spec(s.value)
                return s
            v = s.value
            if isinstance(v, gast.Call) and isinstance(v.func, gast.Name) and v.func.id in self.sweep_info:
                sweep_types, tape_params = self.sweep_info[v.func.id]
                names = [a.id for a in self.o.by_name[v.func.id].args.args]
                args = []
                for p, a in zip(names, v.args):
                    if p in tape_params:
                        args.append(a)
                    elif sweep_types.params.get(p) == {A} and isinstance(a, gast.Name) and \
                            self.t.params.get(a.id) == {A}:
                        args.append(a)
                    elif sweep_types.spec(p) and isinstance(a, gast.Name):
                        args.append(a)
                    else:
                        args.append(self.plain(a))
                v.args = args
                return s
            s.value = self.plain(v)
            return s
        app = _append_of(s)
        if app is not None and app[0] in self.tapes and isinstance(app[1], gast.Name) and \
                C not in t.types.get(app[1].id, ()):
            return s                  # popped back into the same name by the sweep
        if isinstance(s, (gast.If, gast.While)):
            s.test = self.test(s.test)
            s.body = self.block(s.body)
            s.orelse = self.block(s.orelse)
            return s
        if isinstance(s, gast.For):
            s.iter = self.plain(s.iter)
            s.body = self.block(s.body)
            s.orelse = self.block(s.orelse)
            return s
        return self.plain(s)


def _returned_floats(fn, rt_name: str) -> None:
    """``rt.to_numpy(y)`` returned by the entry (directly, or as an element of the tuple it
    returns, held by a name read only by ``return``): ``y``.  dlfeval wraps a Python float as it
    wraps a numpy float64 (a 0-d float64 dlarray: sct.runtime.dlarray.wrap_outputs and the
    wrappers sct.api.make_call_from writes), so the conversion is left to it."""
    stores: Dict[str, list] = {}
    loads: Dict[str, int] = {}
    for node in gast.walk(fn):
        if isinstance(node, gast.Assign):
            for t in node.targets:
                for n in gast.walk(t):
                    if isinstance(n, gast.Name):
                        stores.setdefault(n.id, []).append(node.value if t is n and len(node.targets) == 1 else None)
        elif isinstance(node, gast.Name):
            if isinstance(node.ctx, gast.Load):
                loads[node.id] = loads.get(node.id, 0) + 1
            else:
                stores.setdefault(node.id, [])
    returns = [s for s in _statements(fn.body) if isinstance(s, gast.Return) and s.value is not None]
    returned_names: Dict[str, int] = {}
    for r in returns:
        if isinstance(r.value, gast.Name):
            returned_names[r.value.id] = returned_names.get(r.value.id, 0) + 1

    def strip(e):
        if _rt_call(e, rt_name, "to_numpy") and len(e.args) == 1 and not e.keywords and \
                isinstance(e.args[0], gast.Name):
            return e.args[0]
        return e

    for r in returns:
        v = r.value
        if isinstance(v, gast.Name):
            values = stores.get(v.id, [])
            if len(values) == 1 and isinstance(values[0], gast.Tuple) and \
                    loads.get(v.id, 0) == returned_names.get(v.id, 0):
                values[0].elts = [strip(e) for e in values[0].elts]
        elif isinstance(v, gast.Tuple):
            v.elts = [strip(e) for e in v.elts]
        else:
            r.value = strip(v)


def _else(stmts):
    return stmts if any(not _is_comment(s) for s in stmts) else []


def _truth(t) -> bool:
    """A comparison of specialised values (or Python bools): its truth is the same either way."""
    return C in t and t <= {C, B}


def _truth_parts(e):
    """The operands of the ``and``/``or``/``not`` of a test, and the test itself."""
    yield e
    if isinstance(e, gast.BoolOp):
        for v in e.values:
            yield from _truth_parts(v)
    elif isinstance(e, gast.UnaryOp) and isinstance(e.op, gast.Not):
        yield from _truth_parts(e.operand)


def _drop(stmts, dead):
    out = []
    for s in stmts:
        if dead(s):
            continue
        for field in ("body", "orelse"):
            inner = getattr(s, field, None)
            if isinstance(inner, list) and inner and not isinstance(s, gast.FunctionDef):
                kept = _drop(inner, dead)
                setattr(s, field, _block(kept) if field == "body" else _else(kept))
        out.append(s)
    return out


# --- dead zero markers -----------------------------------------------------------------------

def _reads(node) -> Set[str]:
    return {n.id for n in gast.walk(node) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load)}


class DeadZeros:
    """``d = rt.ZERO`` where no path reads that value (it is assigned again first): removed.
    A backward liveness over the function (a fixed point at each loop)."""

    def __init__(self, rt_name: str):
        self.rt = rt_name
        self.read: Dict[int, Set[str]] = {}

    def reads(self, node) -> Set[str]:
        found = self.read.get(id(node))
        if found is None or found[0] is not node:
            found = self.read[id(node)] = (node, _reads(node))
        return found[1]

    def run(self, fn) -> None:
        fn.body = _block(self.block(fn.body, set(), remove=True)[0])

    def block(self, stmts, live: Set[str], remove: bool):
        live = set(live)
        out = []
        for s in reversed(stmts):
            keep, live = self.statement(s, live, remove)
            if keep is not None:
                out.append(keep)
        out.reverse()
        return out, live

    def statement(self, s, live: Set[str], remove: bool):
        if isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], gast.Name):
            t = s.targets[0].id
            if remove and _is_rt(s.value, self.rt, "ZERO") and t not in live:
                return None, live
            return s, (live - {t}) | self.reads(s.value)
        if isinstance(s, gast.If):
            body, lb = self.block(s.body, live, remove)
            orelse, lo = self.block(s.orelse, live, remove)
            if remove:
                s.body = _block(body)
                s.orelse = _else(orelse)
            return s, lb | lo | self.reads(s.test)
        if isinstance(s, (gast.For, gast.While)):
            head = set(live) | self.reads(s.iter if isinstance(s, gast.For) else s.test)
            if _jumps(s.body) or s.orelse:
                head |= self.reads(s)
                everything = head
                return s, everything
            for _ in range(100):
                _, inner = self.block(s.body, head, remove=False)
                new = head | inner
                if new == head:
                    break
                head = new
            else:
                head |= self.reads(s)
            if remove:
                s.body = _block(self.block(s.body, head, remove=True)[0])
            return s, head
        if isinstance(s, gast.Return):
            return s, self.reads(s)
        return s, live | self.reads(s)


def specialise(functions, entry: str, param_kinds: Dict, rt_name: str, numpy_name: Optional[str]) -> Set[str]:
    """Rewrite the entry ``entry`` of ``functions`` (gast) and the sweeps it calls in place; returns
    the names of the functions rewritten."""
    if not enabled():
        return set()
    specialiser = Specialiser(functions, entry, param_kinds, rt_name, numpy_name)
    specialiser.run()
    return specialiser.rewritten
