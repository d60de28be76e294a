"""The fused backend: chains of elementwise numpy operations of generated code as one numexpr call.

Off by default.  ``sct.set_backend("numexpr")`` (or the environment variable
``SCT_BACKEND=numexpr`` when sct is imported; ``SCT_FUSE_MIN_SIZE`` sets ``min_size``,
``SCT_FUSE_COST_MODEL=0`` switches the cost model off, ``SCT_FUSE_MEASURE=0`` the measuring
only) switches it on for code compiled from then on;
``sct.set_backend("numpy")`` switches it off.  numexpr is an optional extra:
``pip install "sct-autodiff[fast]"``.

The pass runs over the generated functions (forward, adjoints, tangents) just before they
are printed.  In each straight-line run of simple assignments of one user line (a line
comment or any other statement ends a run) it inlines a value defined by an elementwise
expression into its one use in a later elementwise expression of the run, when nothing
else reads it (the whole function is searched; a name a nested function or a loop could
read again is kept), then writes every elementwise expression of MIN_OPS operations or more as

    y = rt.fused("d_y * (1 - h ** 2) + x / w", d_y, h, x, w)

Elementwise: ``+ - * /``, unary ``-``, ``**`` with a numeric constant exponent, the numpy
functions of FUSED_FUNCTIONS called as ``np.f(...)`` without keywords, ``rt.unbroadcast(g, like)``
and the plain backend's in-place forms of ``+ - * /`` and unary ``-`` (``rt.into_temporary``,
``rt.negative_into``, with the ``del`` releasing their temporaries); operands are names and
numeric constants.

The cost model (on by default; ``set_backend(..., cost_model=False)`` is the backend as it was
first written: every chain of two operations, sqrt and abs too, and the plain backend's rewrites
off).  numexpr's interpreter (one thread) is slower per operation than numpy's SIMD loops, and its
exp, log, sqrt, abs... are the C library's, up to 10x slower than numpy's; what it saves is the
temporaries and passes over memory between operations.  So, per block of generated code:

* the plain backend's rewrites (sct/optimize.py: temporaries overwritten in place, products by a
  known one, ...) run first, as they do without the backend;
* a chain is fused only if it has MIN_OPS operations on arrays or more; numpy functions outside
  FUSED_FUNCTIONS get a statement of their own and stay numpy calls, the chain around them fused;
* a run of statements in which nothing is fused is left as the plain backend wrote it;
* functions specialised to Python floats (sct/scalars.py) are not fused;
* at run time (sct.runtime.fused) a call whose arrays are all under ``min_size`` elements runs the
  chain with numpy at once, and numexpr takes a chain over (per dtype and power-of-two size class)
  only where its first calls measured it faster than numpy.

Whether numexpr or numpy evaluates a call also depends on the types, dtypes, shapes and values
(sct.runtime.fused): what numexpr cannot do with numpy's result goes to numpy.

Generated code that is differentiated again (second derivatives, forward over reverse) is
read back with its fused calls expanded to the numpy expressions they stand for
(:func:`unfuse`), so every derivative is taken of plain numpy code.
"""
from __future__ import annotations

import ast
import os
from collections import Counter
from typing import Dict, List, Optional

import gast

from .errors import SctError
from .ir import walk_nodes
from .runtime import fused as _rt_fused, registry
from .rt_namespace import RT

BACKENDS = ("numpy", "numexpr")
_STATE = {"backend": "numpy", "cost_model": True}


def set_backend(backend: str = "numpy", min_size: Optional[int] = None,
                cost_model: Optional[bool] = None) -> None:
    """Choose how generated code evaluates chains of elementwise operations.

    ``"numpy"`` (the default): every operation is one numpy call.  ``"numexpr"``: chains of
    elementwise arithmetic are fused into one numexpr evaluation where that is likely to gain and
    gives numpy's result.  With the cost model (``cost_model=True``, the default) a chain is
    fused where, after the plain backend's own rewrites (temporaries overwritten in place...),
    it still has three operations on arrays or more and no function that numpy computes faster
    (exp, log, sqrt, abs...), and numexpr evaluates it for float64/float32 arrays of at least
    ``min_size`` elements (default 32768) only where its first calls on arrays of that size
    measured numexpr faster than numpy; elsewhere the code is the plain backend's.
    ``cost_model=False`` fuses every chain of two operations or more that numexpr can compute,
    wherever numexpr gives numpy's result (the plain backend's in-place rewrites off): for
    testing the fused path, or to try it.  See sct/fuse.py and sct/runtime/fused.py.
    Needs the optional extra: ``pip install "sct-autodiff[fast]"`` (numexpr).  Code compiled
    before the switch is compiled again.

    >>> sct.set_backend("numexpr")            # doctest: +SKIP
    >>> sct.set_backend("numpy")              # the default: one numpy call per operation
    >>> sct.get_backend()
    'numpy'
    """
    name = str(backend).lower()
    if name not in BACKENDS:
        raise SctError(f"sct.set_backend: unknown backend {backend!r}; choose one of {BACKENDS}")
    if name == "numexpr":
        try:
            import numexpr  # noqa: F401
        except ImportError:
            raise SctError('the "numexpr" backend needs numexpr, which is not installed: '
                           'pip install "sct-autodiff[fast]" (or pip install numexpr)') from None
    if min_size is not None:
        if int(min_size) < 0:
            raise SctError(f"sct.set_backend: min_size must be >= 0, not {min_size!r}")
        _rt_fused.min_size[0] = int(min_size)
    if cost_model is not None and bool(cost_model) != _STATE["cost_model"]:
        _STATE["cost_model"] = bool(cost_model)
        _rt_fused.measure[0] = bool(cost_model)
        registry._version[0] += 1          # every compile cache is keyed on this: recompile
    if name != _STATE["backend"]:
        _STATE["backend"] = name
        registry._version[0] += 1


def get_backend() -> str:
    """The backend chosen by :func:`set_backend` ("numpy" or "numexpr").

    >>> sct.get_backend()
    'numpy'
    """
    return _STATE["backend"]


def active() -> bool:
    return _STATE["backend"] == "numexpr"


def plain_rewrites() -> bool:
    """Whether the plain backend's rewrites (sct/optimize.py: temporaries overwritten in place,
    known products...) run: always but with the fused backend without its cost model."""
    return not active() or _STATE["cost_model"]


def _from_environment() -> None:
    value = os.environ.get("SCT_BACKEND", "").strip()
    size = os.environ.get("SCT_FUSE_MIN_SIZE", "").strip()
    model = os.environ.get("SCT_FUSE_COST_MODEL", "").strip()
    if value or size or model:
        set_backend(value or "numpy", int(size) if size else None, model != "0" if model else None)
    if os.environ.get("SCT_FUSE_MEASURE", "").strip() == "0":     # (tests: numexpr wherever it can)
        _rt_fused.measure[0] = False


# --- the pass ---------------------------------------------------------------------------------

_BINOPS = (gast.Add, gast.Sub, gast.Mult, gast.Div)
_IN_PLACE_OPS = {"add": gast.Add, "sub": gast.Sub, "mul": gast.Mult, "div": gast.Div}
# The numpy functions fused: those that are arithmetic (a negation, a product, a quotient).
# numpy's own SIMD exp, log, log1p, tanh, cos, sqrt, abs... (AVX2/AVX-512) are 1x-10x faster
# than numexpr's (the C library's, one element at a time: exp 4.9 ms against numpy's 1.7 ms per
# 1e6 float64, log1p 19 against 7, sqrt 2.5 against 1.6, abs 1.8 against 0.3), so they stay
# numpy calls whose results a fused chain reads (measured with numexpr 2.14, numpy 2.4, one
# thread, AMD EPYC; sct.runtime.fused evaluates them all the same).
FUSED_FUNCTIONS = frozenset(["negative", "square", "reciprocal"])
# The fewest operations on arrays a fused chain has: numexpr's interpreter is slower per operation
# than numpy's SIMD loops; what it saves is the temporaries and passes over memory between the
# operations, which for ``a * b + c`` (one temporary) does not pay (1.6 ms against numpy's 0.9 ms
# per 1e6 float64, one thread) and for four operations may (3.9 against 5.1, glibc's default
# allocator); sct.runtime.fused then measures each chain before numexpr takes it over.
MIN_OPS = 3
# without the cost model (set_backend(..., cost_model=False)): every function numexpr computes as
# numpy does, every chain of two operations
ALL_FUNCTIONS = frozenset(["sqrt", "abs", "absolute", "fabs", "negative", "square", "reciprocal"])
# calls that neither change their arguments nor anything else (a run's statements between a
# value's definition and its use must be such, for the value to move to its use)
_PURE_NUMPY = frozenset(["sum", "mean", "prod", "max", "min", "amax", "amin", "shape", "ndim", "size",
                         "dot", "matmul", "outer", "transpose", "reshape", "broadcast_to", "zeros_like",
                         "ones_like", "zeros", "ones"]) | frozenset(_rt_fused.FUNCTIONS)
_PURE_RT = frozenset(["reduction_broadcast", "reduction_sum", "seed", "unbroadcast"])


class _Elementwise:
    """What is elementwise: the expressions of generated code that numexpr computes."""
    def __init__(self, rt_name: str, numpy_name: str):
        self.rt = rt_name
        self.np = numpy_name
        self.model = model = _STATE["cost_model"]
        self.functions = FUSED_FUNCTIONS if model else ALL_FUNCTIONS
        self.min_ops = MIN_OPS if model else 2

    def is_leaf(self, node) -> bool:
        if isinstance(node, gast.Name):
            return isinstance(node.ctx, gast.Load)
        return isinstance(node, gast.Constant) and type(node.value) in (int, float)

    def exponent(self, node) -> bool:
        if isinstance(node, gast.Constant):
            return type(node.value) in (int, float)
        return isinstance(node, gast.UnaryOp) and isinstance(node.op, gast.USub) and \
            isinstance(node.operand, gast.Constant) and type(node.operand.value) in (int, float)

    def is_module_call(self, node, module: str, names) -> Optional[str]:
        if isinstance(node, gast.Call) and isinstance(node.func, gast.Attribute) and \
                isinstance(node.func.value, gast.Name) and node.func.value.id == module and \
                node.func.attr in names and not node.keywords and \
                not any(isinstance(a, gast.Starred) for a in node.args):
            return node.func.attr
        return None

    def ops(self, node) -> int:
        """The number of operations of an elementwise tree; -1 when ``node`` is not one."""
        if self.is_leaf(node):
            return 0
        if isinstance(node, gast.UnaryOp) and isinstance(node.op, gast.USub):
            n = self.ops(node.operand)
            return -1 if n < 0 else n + 1
        if isinstance(node, gast.BinOp):
            if isinstance(node.op, gast.Pow):
                if not self.exponent(node.right):
                    return -1
                n = self.ops(node.left)
                return -1 if n < 0 else n + 1
            if isinstance(node.op, _BINOPS):
                a, b = self.ops(node.left), self.ops(node.right)
                return -1 if a < 0 or b < 0 else a + b + 1
            return -1
        operands = self.in_place(node)
        if operands is not None:
            total = 1
            for a in operands:
                n = self.ops(a)
                if n < 0:
                    return -1
                total += n
            return total
        name = self.is_module_call(node, self.np, self.functions)
        if name is not None:
            if len(node.args) != _rt_fused.FUNCTIONS[name][0]:
                return -1
            total = 1
            for a in node.args:
                n = self.ops(a)
                if n < 0:
                    return -1
                total += n
            return total
        if self.is_module_call(node, self.rt, ("unbroadcast",)) and len(node.args) == 2 and \
                isinstance(node.args[1], gast.Name):
            return self.ops(node.args[0])
        return -1

    def in_place(self, node) -> Optional[List]:
        """The operands of ``rt.into_temporary(op, a, b, side)`` (``a <op> b`` written into a
        temporary's buffer) and ``rt.negative_into(a)`` (``-a``), the plain backend's rewrites
        (sct/optimize.py): elementwise operations; else None."""
        if self.is_module_call(node, self.rt, ("into_temporary",)) and len(node.args) == 4 and \
                isinstance(node.args[0], gast.Constant) and node.args[0].value in _IN_PLACE_OPS:
            return node.args[1:3]
        if self.is_module_call(node, self.rt, ("negative_into",)) and len(node.args) == 1:
            return node.args[:1]
        return None

    def array_ops(self, node) -> int:
        """The operations of an elementwise tree that read an array or a name (not those on
        constants alone, ``-1.5``, ``1.0 / 3``; an unbroadcast is free)."""
        def count(node):                 # (operations, whether a name is read)
            if isinstance(node, gast.Name):
                return 0, True
            if isinstance(node, gast.Constant):
                return 0, False
            if isinstance(node, gast.UnaryOp):
                children = [node.operand]
            elif isinstance(node, gast.BinOp):
                children = [node.left, node.right]
            elif self.is_module_call(node, self.rt, ("unbroadcast",)):
                return count(node.args[0])
            else:
                children = list(node.args)
            total, named = 0, False
            for c in children:
                n, has = count(c)
                total, named = total + n, named or has
            return total + (1 if named else 0), named
        return count(node)[0]

    def trivial(self, node) -> bool:
        """A copy of a name, or an unbroadcast of one: free to repeat."""
        if isinstance(node, gast.Name):
            return True
        return self.is_module_call(node, self.rt, ("unbroadcast",)) is not None and \
            len(node.args) == 2 and isinstance(node.args[0], gast.Name) and isinstance(node.args[1], gast.Name)

    def numpy_tree(self, node) -> bool:
        """An elementwise tree in which numpy functions that are not fused may appear too."""
        if self.ops(node) >= 0:
            return False
        if self.is_leaf(node):
            return True
        if isinstance(node, gast.UnaryOp) and isinstance(node.op, gast.USub):
            return self.numpy_tree(node.operand) or self.ops(node.operand) >= 0
        if isinstance(node, gast.BinOp) and (isinstance(node.op, _BINOPS) or
                                             (isinstance(node.op, gast.Pow) and self.exponent(node.right))):
            return all(self.numpy_tree(c) or self.ops(c) >= 0 for c in (node.left, node.right))
        name = self.is_module_call(node, self.np, _rt_fused.FUNCTIONS)
        if name is not None and len(node.args) == _rt_fused.FUNCTIONS[name][0]:
            return all(self.numpy_tree(a) or self.ops(a) >= 0 for a in node.args)
        if self.is_module_call(node, self.rt, ("unbroadcast",)) and len(node.args) == 2 and \
                isinstance(node.args[1], gast.Name):
            return self.numpy_tree(node.args[0]) or self.ops(node.args[0]) >= 0
        operands = self.in_place(node)
        if operands is not None:
            return all(self.numpy_tree(c) or self.ops(c) >= 0 for c in operands)
        return False


class _Fuser(_Elementwise):
    """Runs of statements of one function: numpy calls hoisted out of elementwise trees, values moved
    to their one use, and the maximal trees of two operations or more as ``rt.fused`` calls."""

    def hoist(self, body: List) -> List:
        """``d = g * np.cos(x) + h`` -> ``d_cos = np.cos(x); d = g * d_cos + h``: a numpy
        function that is not fused gets its own statement, so the chain around it can be."""
        out: List = []
        for stmt in body:
            value = getattr(stmt, "value", None)
            target = stmt.targets[0].id if isinstance(stmt, gast.Assign) and len(stmt.targets) == 1 and \
                isinstance(stmt.targets[0], gast.Name) else "value" if isinstance(stmt, gast.Return) else None
            if target is None or value is None or not self.numpy_tree(value) or \
                    self.is_module_call(value, self.np, _rt_fused.FUNCTIONS):
                out.append(stmt)
                continue
            hoisted: List = []
            original = _copy(stmt)

            def visit(node):
                for field, child in gast.iter_fields(node):
                    if isinstance(child, list):
                        setattr(node, field, [visit(c) if isinstance(c, gast.expr) else c for c in child])
                    elif isinstance(child, gast.expr):
                        setattr(node, field, visit(child))
                name = self.is_module_call(node, self.np, _rt_fused.FUNCTIONS)
                if name is not None and name not in self.functions:
                    fresh = self.fresh(f"{target}_{name}")
                    hoisted.append(gast.Assign(targets=[gast.Name(id=fresh, ctx=gast.Store(), annotation=None,
                                                                  type_comment=None)],
                                               value=node, type_comment=None))
                    gast.copy_location(hoisted[-1], stmt)
                    self.loads[fresh] += 1
                    return gast.Name(id=fresh, ctx=gast.Load(), annotation=None, type_comment=None)
                return node
            visit(stmt)
            if hoisted:
                self.unhoisted[id(stmt)] = original
                self.hoisted.update(id(h) for h in hoisted)
            out.extend(hoisted)
            out.append(stmt)
        return out

    def fresh(self, base: str) -> str:
        name, i = base, 1
        while name in self.names:
            name = f"{base}_{i}"
            i += 1
        self.names.add(name)
        return name

    # statements
    def run_kind(self, stmt) -> Optional[str]:
        """'pure' (name = elementwise tree, no effect), 'use' (an assignment or return that may
        read fused values: a call whose arguments are names, constants or elementwise trees),
        'del' (``del name``: the plain backend's release of a temporary), None (ends a run)."""
        if isinstance(stmt, gast.Delete):
            return "del" if self.model and all(isinstance(t, gast.Name) for t in stmt.targets) else None
        if isinstance(stmt, gast.Assign):
            if len(stmt.targets) != 1 or not isinstance(stmt.targets[0], gast.Name):
                return None
            value = stmt.value
        elif isinstance(stmt, gast.Return):
            value = stmt.value
            if value is None:
                return None
        else:
            return None
        if self.ops(value) >= 0:
            return "pure" if isinstance(stmt, gast.Assign) else "use"
        if isinstance(value, gast.Tuple):
            return "use" if all(self.ops(e) >= 0 for e in value.elts) else None
        if isinstance(value, gast.Call) and not any(isinstance(a, gast.Starred) for a in value.args) and \
                all(self.ops(a) >= 0 for a in value.args) and \
                all(isinstance(k.value, (gast.Name, gast.Constant)) and k.arg is not None and k.arg != "out"
                    for k in value.keywords) and self._plain_function(value.func):
            return "use"
        return None

    def no_effect(self, stmt) -> bool:
        """A statement of a run that changes nothing but its target: an elementwise tree, a
        tuple of them, or a call of a few numpy and sct functions known to be pure."""
        if self.run_kind(stmt) in ("pure", "del"):
            return True                     # (a del of an operand is checked by inline)
        if not isinstance(stmt, gast.Assign):
            return False
        value = stmt.value
        if isinstance(value, gast.Tuple):
            return True
        if isinstance(value, gast.Call) and isinstance(value.func, gast.Attribute) and \
                isinstance(value.func.value, gast.Name) and all(k.arg != "out" for k in value.keywords):
            module, attr = value.func.value.id, value.func.attr
            return (module == self.np and attr in _PURE_NUMPY) or (module == self.rt and attr in _PURE_RT)
        return False

    def _plain_function(self, func) -> bool:
        while isinstance(func, gast.Attribute):
            func = func.value
        return isinstance(func, gast.Name)

    # the whole function
    def function(self, fdef) -> None:
        self.loads = Counter()
        self.unhoisted: Dict[int, object] = {}     # id of a statement hoisting split -> its original
        self.hoisted = set()                       # ids of the statements hoisting made
        self.kept = set()                    # names read by nested scopes or declared global
        self.names = {n.id for n in gast.walk(fdef) if isinstance(n, gast.Name)} | \
            {a.id for a in gast.walk(fdef.args) if isinstance(a, gast.Name)}
        for node in gast.walk(fdef):
            if isinstance(node, gast.Name) and isinstance(node.ctx, gast.Load):
                self.loads[node.id] += 1
            elif isinstance(node, (gast.Global, gast.Nonlocal)):
                self.kept.update(node.names)
        for stmt in fdef.body:
            for node in gast.walk(stmt):
                if isinstance(node, (gast.FunctionDef, gast.Lambda, gast.ListComp, gast.SetComp,
                                     gast.DictComp, gast.GeneratorExp, gast.ClassDef)):
                    for n in gast.walk(node):
                        if isinstance(n, gast.Name):
                            self.kept.add(n.id)
        self.block(fdef.body)

    def block(self, body: List) -> None:
        for stmt in body:
            if isinstance(stmt, (gast.FunctionDef, gast.ClassDef)):
                continue
            for field in ("body", "orelse", "finalbody"):
                inner = getattr(stmt, field, None)
                if isinstance(inner, list) and inner and isinstance(inner[0], gast.stmt):
                    self.block(inner)
            for handler in getattr(stmt, "handlers", []) or []:
                self.block(handler.body)
        body[:] = self.hoist(body)
        out: List = []
        i = 0
        while i < len(body):
            if self.run_kind(body[i]) is None:
                out.append(body[i])
                i += 1
                continue
            j = i
            while j < len(body) and self.run_kind(body[j]) is not None:
                j += 1
            out.extend(self.run_or_keep(body[i:j]))
            i = j
        body[:] = out

    def run_or_keep(self, stmts: List) -> List:
        """The run fused where that makes a fused call (a chain of MIN_OPS operations or more),
        else the statements as they were before hoisting: the plain backend's code."""
        self.made = 0
        if not self.model:
            return self.run(stmts)
        plan = [None if id(s) in self.hoisted else self.unhoisted.get(id(s)) or _copy(s) for s in stmts]
        loads = Counter(self.loads)
        fused = self.run(stmts)
        if self.made:
            return fused
        self.loads = loads
        return [s for s in plan if s is not None]

    def run(self, stmts: List) -> List:
        changed = True
        while changed:
            changed = False
            for i, stmt in enumerate(stmts):
                if self.run_kind(stmt) != "pure" or self.ops(stmt.value) < 0:
                    continue
                if self.inline(stmts, i):
                    del stmts[i]
                    changed = True
                    break
        for stmt in stmts:
            if not isinstance(stmt, gast.Delete):
                stmt.value = self.replace(stmt.value, top=True)
        return stmts

    def inline(self, stmts: List, i: int) -> bool:
        """Put the value of ``stmts[i]`` where it is read, if it is read only in this run's
        later 'use' or 'pure' statements before anything can change its operands."""
        target = stmts[i].targets[0].id
        value = stmts[i].value
        if target in self.kept:
            return False
        leaves = {n.id for n in gast.walk(value) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load)}
        uses = []
        count = 0
        redefined = False
        released = None                     # the index of the ``del target`` ending its life
        for k in range(i + 1, len(stmts)):
            s = stmts[k]
            if isinstance(s, gast.Delete):
                deleted = {t.id for t in s.targets}
                if target in deleted:
                    redefined, released = True, k
                    break
                if deleted & leaves and any(_reads(s2, target) for s2 in stmts[k + 1:]):
                    return False            # an operand released before the value is read
                continue
            reads = [n for n in gast.walk(s.value) if isinstance(n, gast.Name) and
                     isinstance(n.ctx, gast.Load) and n.id == target]
            if reads:
                uses.append((k, reads))
                count += len(reads)
            stored = s.targets[0].id if isinstance(s, gast.Assign) else None
            if stored == target:
                redefined = True
                break
            if stored in leaves and (k + 1 < len(stmts)):
                # an operand changes: later reads would see another value
                if any(_reads(s2, target) for s2 in stmts[k + 1:]):
                    return False
        if not uses:
            return False
        if any(not self.no_effect(stmts[m]) for m in range(i + 1, uses[-1][0])):
            return False                    # a call between could change an operand in place
        if not redefined and count != self.loads[target]:
            return False                    # read elsewhere too (after the run, in a loop, ...)
        if count > 1 and not self.trivial(value):
            return False
        for k, reads in uses:
            if self.run_kind(stmts[k]) not in ("pure", "use"):
                return False
        # every read must be an operand of an elementwise tree or a call argument of a 'use'
        for k, reads in uses:
            stmts[k].value = _substitute(stmts[k].value, target, value)
        if released is not None:            # the name is gone: so is its release
            stmts[released].targets = [t for t in stmts[released].targets if t.id != target]
            if not stmts[released].targets:
                del stmts[released]
        self.loads[target] -= count
        for n in leaves:
            self.loads[n] += (count - 1) * sum(1 for m in gast.walk(value)
                                               if isinstance(m, gast.Name) and m.id == n)
        return True

    def replace(self, node, top=False):
        """Maximal elementwise trees of two operations or more as rt.fused calls."""
        n = self.ops(node)
        if n >= 0 and (self.array_ops(node) if self.model else n) >= self.min_ops:
            self.made += 1
            return self.fused_call(node)
        if n >= 0:
            return node
        if isinstance(node, gast.Call):
            node.args = [self.replace(a) for a in node.args]
        elif isinstance(node, gast.Tuple):
            node.elts = [self.replace(e) for e in node.elts]
        elif isinstance(node, gast.BinOp):
            node.left, node.right = self.replace(node.left), self.replace(node.right)
        elif isinstance(node, gast.UnaryOp):
            node.operand = self.replace(node.operand)
        return node

    def fused_call(self, node):
        from .emit import expr_source
        text = expr_source(_strip_modules(_ExpandInPlace(self).visit(_copy(node)), self.rt, self.np))  # exact numbers
        tree = ast.parse(text, mode="eval").body
        text = ast.unparse(tree)            # the fewest parentheses
        names = _rt_fused.expression_names(tree)
        args = [gast.Name(id=n, ctx=gast.Load(), annotation=None, type_comment=None) for n in names]
        call = gast.Call(func=gast.Attribute(value=gast.Name(id=self.rt, ctx=gast.Load(), annotation=None,
                                                             type_comment=None),
                                             attr="fused", ctx=gast.Load()),
                         args=[gast.Constant(value=text, kind=None)] + args, keywords=[])
        return call


def _reads(stmt, name: str) -> bool:
    """Whether the statement of a run reads ``name``."""
    value = getattr(stmt, "value", None)
    return value is not None and any(isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load) and n.id == name
                                     for n in gast.walk(value))


def _copy(node):
    import copy
    return copy.deepcopy(node)


class _Substitute(gast.NodeTransformer):
    def __init__(self, name, value):
        self.name, self.value = name, value

    def visit_Name(self, node):
        if node.id == self.name and isinstance(node.ctx, gast.Load):
            return _copy(self.value)
        return node


def _substitute(tree, name, value):
    if isinstance(tree, gast.Name) and tree.id == name:
        return _copy(value)
    return _Substitute(name, value).visit(tree)


class _ExpandInPlace(gast.NodeTransformer):
    """``rt.into_temporary("mul", a, b, 0)`` -> ``a * b``, ``rt.negative_into(a)`` -> ``-a``: in the
    fused text, the operations the plain backend's in-place calls compute."""

    def __init__(self, elementwise):
        self.elementwise = elementwise

    def visit_Call(self, node):
        self.generic_visit(node)
        operands = self.elementwise.in_place(node)
        if operands is None:
            return node
        if len(operands) == 1:
            return gast.UnaryOp(op=gast.USub(), operand=operands[0])
        return gast.BinOp(left=operands[0], op=_IN_PLACE_OPS[node.args[0].value](), right=operands[1])


class _StripModules(gast.NodeTransformer):
    """np.sin(x) -> sin(x), rt.unbroadcast(g, x) -> unbroadcast(g, x): the fused text."""

    def __init__(self, modules):
        self.modules = modules

    def visit_Call(self, node):
        self.generic_visit(node)
        if isinstance(node.func, gast.Attribute) and isinstance(node.func.value, gast.Name) and \
                node.func.value.id in self.modules:
            node.func = gast.Name(id=node.func.attr, ctx=gast.Load(), annotation=None, type_comment=None)
        return node


def _strip_modules(node, rt_name, numpy_name):
    return _StripModules((rt_name, numpy_name)).visit(node)


def fuse_functions(functions: List, rt_name: str, numpy_name: str) -> None:
    """The pass: rewrite the generated ``functions`` (gast FunctionDefs) in place."""
    fuser = _Fuser(rt_name, numpy_name)
    for fdef in functions:
        fuser.function(fdef)


# --- reading fused code back -------------------------------------------------------------------

def has_fused(fdef) -> bool:
    return any(isinstance(n, gast.Attribute) and n.attr == "fused" for n in walk_nodes(fdef))


def unfuse(fdef, namespace: Dict) -> None:
    """Expand the ``rt.fused("...", args)`` calls of generated code back into the numpy
    expressions they stand for (before that code is differentiated again)."""
    import numpy as np
    numpy_name = next((k for k, v in namespace.items() if v is np), None)

    class Expand(gast.NodeTransformer):
        def visit_Call(self, node):
            self.generic_visit(node)
            func = node.func
            if not (isinstance(func, gast.Attribute) and func.attr == "fused" and
                    isinstance(func.value, gast.Name) and namespace.get(func.value.id) is RT and
                    node.args and isinstance(node.args[0], gast.Constant) and
                    isinstance(node.args[0].value, str)):
                return node
            if numpy_name is None:
                raise SctError("generated code with fused expressions has no name for numpy")
            tree = gast.parse(node.args[0].value, mode="eval").body
            names = _rt_fused.expression_names(ast.parse(node.args[0].value, mode="eval").body)
            values = dict(zip(names, node.args[1:]))
            rt_name = func.value.id

            class Back(gast.NodeTransformer):
                def visit_Call(self, call):
                    call.args = [self.visit(a) for a in call.args]
                    module = rt_name if call.func.id == "unbroadcast" else numpy_name
                    call.func = gast.Attribute(value=gast.Name(id=module, ctx=gast.Load(), annotation=None,
                                                               type_comment=None),
                                               attr=call.func.id, ctx=gast.Load())
                    return call

                def visit_Name(self, name):
                    return _copy(values[name.id])

            out = Back().visit(tree)
            for n in gast.walk(out):
                gast.copy_location(n, node)
            return out

    Expand().visit(fdef)
