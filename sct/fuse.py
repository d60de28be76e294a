"""The fused backend: chains of elementwise numpy operations of generated code as one numexpr call.

Off by default.  ``sct.set_backend("numexpr")`` (or the environment variable
``SCT_BACKEND=numexpr`` when sct is imported; ``SCT_FUSE_MIN_SIZE`` sets ``min_size``) switches
it on for code compiled from then on;
``sct.set_backend("numpy")`` switches it off.  numexpr is an optional extra:
``pip install "sct-autodiff[fast]"``.

The pass runs over the generated functions (forward, adjoints, tangents) just before they
are printed.  In each straight-line run of simple assignments of one user line (a line
comment or any other statement ends a run) it inlines a value defined by an elementwise
expression into its one use in a later elementwise expression of the run, when nothing
else reads it (the whole function is searched; a name a nested function or a loop could
read again is kept), then writes every elementwise expression of two operations or more as

    y = rt.fused("sin(x) * exp(-(x ** 2)) + log1p(x ** 2)", x)

Elementwise: ``+ - * /``, unary ``-``, ``**`` with a numeric constant exponent, numpy's
elementwise functions of sct.runtime.fused.FUNCTIONS called as ``np.f(...)`` without keywords,
and ``rt.unbroadcast(g, like)``; operands are names and numeric constants.  Whether numexpr or
numpy evaluates it is decided per call by the types, dtypes, shapes and sizes of the values
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
_STATE = {"backend": "numpy"}


def set_backend(backend: str = "numpy", min_size: Optional[int] = None) -> None:
    """Choose how generated code evaluates chains of elementwise operations.

    ``"numpy"`` (the default): every operation is one numpy call.  ``"numexpr"``: chains of
    elementwise operations are fused into one numexpr evaluation where that gives numpy's
    result (float64/float32 arrays of at least ``min_size`` elements, default 32768; see
    sct/fuse.py).  Needs the optional extra: ``pip install "sct-autodiff[fast]"``
    (numexpr).  Code compiled before the switch is compiled again.

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
    if name != _STATE["backend"]:
        _STATE["backend"] = name
        registry._version[0] += 1          # every compile cache is keyed on this: recompile


def get_backend() -> str:
    """The backend chosen by :func:`set_backend` ("numpy" or "numexpr").

    >>> sct.get_backend()
    'numpy'
    """
    return _STATE["backend"]


def active() -> bool:
    return _STATE["backend"] == "numexpr"


def _from_environment() -> None:
    value = os.environ.get("SCT_BACKEND", "").strip()
    size = os.environ.get("SCT_FUSE_MIN_SIZE", "").strip()
    if value or size:
        set_backend(value or "numpy", int(size) if size else None)


# --- the pass ---------------------------------------------------------------------------------

_BINOPS = (gast.Add, gast.Sub, gast.Mult, gast.Div)
# The numpy functions fused: those numexpr computes as fast as numpy.  numpy's own SIMD exp,
# log, log1p, sin... (AVX2/AVX-512) are 1x-8x faster than numexpr's (the C library's, one
# element at a time), so they stay numpy calls whose results a fused chain reads (measured
# with numexpr 2.14, numpy 2.4, one thread; sct.runtime.fused evaluates them all the same).
FUSED_FUNCTIONS = frozenset(["sqrt", "abs", "absolute", "fabs", "negative", "square", "reciprocal"])
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
        name = self.is_module_call(node, self.np, FUSED_FUNCTIONS)
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

            def visit(node):
                for field, child in gast.iter_fields(node):
                    if isinstance(child, list):
                        setattr(node, field, [visit(c) if isinstance(c, gast.expr) else c for c in child])
                    elif isinstance(child, gast.expr):
                        setattr(node, field, visit(child))
                name = self.is_module_call(node, self.np, _rt_fused.FUNCTIONS)
                if name is not None and name not in FUSED_FUNCTIONS:
                    fresh = self.fresh(f"{target}_{name}")
                    hoisted.append(gast.Assign(targets=[gast.Name(id=fresh, ctx=gast.Store(), annotation=None,
                                                                  type_comment=None)],
                                               value=node, type_comment=None))
                    gast.copy_location(hoisted[-1], stmt)
                    self.loads[fresh] += 1
                    return gast.Name(id=fresh, ctx=gast.Load(), annotation=None, type_comment=None)
                return node
            visit(stmt)
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
        None (ends a run)."""
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
        if self.run_kind(stmt) == "pure":
            return True
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
            out.extend(self.run(body[i:j]))
            i = j
        body[:] = out

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
        for k in range(i + 1, len(stmts)):
            s = stmts[k]
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
                later = any(n.id == target for s2 in stmts[k + 1:] for n in gast.walk(s2.value)
                            if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load))
                if later:
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
        self.loads[target] -= count
        for n in leaves:
            self.loads[n] += (count - 1) * sum(1 for m in gast.walk(value)
                                               if isinstance(m, gast.Name) and m.id == n)
        return True

    def replace(self, node, top=False):
        """Maximal elementwise trees of two operations or more as rt.fused calls."""
        n = self.ops(node)
        if n >= 2:
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
        text = expr_source(_strip_modules(_copy(node), self.rt, self.np))   # exact numbers
        tree = ast.parse(text, mode="eval").body
        text = ast.unparse(tree)            # the fewest parentheses
        names = _rt_fused.expression_names(tree)
        args = [gast.Name(id=n, ctx=gast.Load(), annotation=None, type_comment=None) for n in names]
        call = gast.Call(func=gast.Attribute(value=gast.Name(id=self.rt, ctx=gast.Load(), annotation=None,
                                                             type_comment=None),
                                             attr="fused", ctx=gast.Load()),
                         args=[gast.Constant(value=text, kind=None)] + args, keywords=[])
        return call


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
