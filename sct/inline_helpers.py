"""Helpers of the same file read in place: where the function meets data formats, and those
that take gradients.

MATLAB's custom training loops pass formatted dlarrays to the user's model function
(``Y = model(parameters, X)`` in ``modelLoss``).  sct follows formats through one function at a
time (``sct/formats.py``), so a formatted argument of a helper was refused.  Where the function
``dlfeval`` compiles meets formats (a formatted argument, ``dlarray(x, fmt)``, ``DataFormat=``),
each call ``r = helper(...)`` of a plain function defined in the same file (same module
globals, no closure, not a generator, no ``global``/``nonlocal``, no nested function or class,
named parameters with literal defaults) is replaced by the helper's own statements: the
arguments bound to fresh names in order, the body normalized with the caller's namer, its one
return assigned to ``r``.  That is what the call computes (Python binds parameters to the
arguments' objects, the body runs, the value returns), so values and every derivative are the
caller's own, formats included; a ``dlgradient`` in the helper then sees the caller's code, as
MATLAB's trace does.  Statements keep the helper's lines (the same file), so errors name them.

A helper of the file that calls ``dlgradient`` (or dljacobian, dldivergence, dllaplacian) is read
in place wherever it is called, for the same reason: its sites then differentiate through the
caller's code (``h(x, x ** 2)``'s ``dlgradient(sum(x * z), x)`` is 3x**2, MATLAB's; compiled on its
own it held z constant).  Not where that would put a gradient that may be differentiated again
inside a loop (the call is in a loop, or the helper loops): there it stays a call, with its own
pair (``sct/helper_sites.py`` refuses what that cannot follow).

The helper's global name stays guarded (``Resolver.resolve_name``): redefining it recompiles.
Anything else (another module's helper, a method, a recursive call, a name the caller binds) is
left as a call.
"""
from __future__ import annotations

import copy
import inspect
import types
from typing import Dict, List, Optional, Set

import gast

from .base_inits import bind_parameters
from .format_inference import has_format, tree_of_kind
from .ir import walk_nodes

MAX_DEPTH = 4
_NO_DEFAULT = object()          # a keyword-only parameter without a default (bind_parameters refuses it)
_UNSUPPORTED = (gast.Global, gast.Nonlocal, gast.Yield, gast.YieldFrom, gast.Await, gast.FunctionDef,
                gast.AsyncFunctionDef, gast.Lambda, gast.ClassDef, gast.Try)


def uses_formats(fdef, kinds) -> bool:
    """Does the function meet data formats: a formatted argument, ``dlarray(x, fmt)``,
    ``DataFormat=`` (read from the tree and the arguments' kinds, before names are resolved)?"""
    if any(has_format(tree_of_kind(k)) for k in kinds or ()):
        return True
    for node in walk_nodes(fdef):
        if isinstance(node, gast.Call):
            if any(k.arg == "DataFormat" for k in node.keywords):
                return True
            f = node.func
            name = f.id if isinstance(f, gast.Name) else f.attr if isinstance(f, gast.Attribute) else None
            if name == "dlarray" and (len(node.args) > 1 or node.keywords):
                return True
    return False


def inline_helpers(fn, fdef: gast.FunctionDef, filename: str, namer, rt_name: str, kinds) -> Set[str]:
    """Inline the same-file helpers ``fdef`` (normalized) calls, where it meets formats; the
    names of the helpers inlined (to be guarded)."""
    if not isinstance(fn, types.FunctionType) or filename.startswith("<sct-generated"):
        return set()             # (generated code calls its sweeps by name: they stay calls)
    inliner = _Inliner(fn, fdef, filename, namer, rt_name, uses_formats(fdef, kinds))
    fdef.body = inliner.block(fdef.body, (fn.__code__,), 0)
    return inliner.inlined


class _Inliner:
    def __init__(self, fn, fdef, filename: str, namer, rt_name: str, formats: bool):
        self.fn, self.fdef, self.filename, self.namer, self.rt_name = fn, fdef, filename, namer, rt_name
        self.formats = formats             # every helper of the file, else those taking gradients
        self.globals = fn.__globals__
        self.locals = {a.id for a in fdef.args.args + fdef.args.kwonlyargs} | \
            {n.id for n in walk_nodes(fdef) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)}
        # the caller's arguments it never rebinds: what a site read in place may differentiate by
        self.arguments = {a.id for a in fdef.args.args + fdef.args.kwonlyargs} - \
            {n.id for n in walk_nodes(fdef) if isinstance(n, gast.Name) and isinstance(n.ctx, (gast.Store, gast.Del))}
        for extra in (fdef.args.vararg, fdef.args.kwarg):
            if extra is not None:
                self.locals.add(extra.id)
        self.inlined: Set[str] = set()

    def block(self, stmts: List, stack, depth: int, in_loop: bool = False) -> List:
        out: List = []
        for s in stmts:
            for field in ("body", "orelse"):
                inner = getattr(s, field, None)
                if isinstance(inner, list) and not isinstance(s, (gast.FunctionDef, gast.ClassDef)):
                    setattr(s, field, self.block(inner, stack, depth, in_loop or isinstance(s, (gast.For, gast.While))))
            replaced = self.statement(s, stack, depth, in_loop)
            out.extend(replaced if replaced is not None else [s])
        return out

    def statement(self, s, stack, depth: int, in_loop: bool) -> Optional[List]:
        if depth >= MAX_DEPTH:
            return None
        if isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(s.value, gast.Call):
            call, target = s.value, s.targets[0]
        elif isinstance(s, gast.Expr) and isinstance(s.value, gast.Call):
            call, target = s.value, None
        else:
            return None
        helper = self.helper(call, stack, in_loop)
        if helper is None:
            return None
        body = self.body(helper, call, getattr(s, "lineno", None))
        if body is None:
            return None
        self.inlined.add(call.func.id)
        *stmts, ret = body
        if target is not None:
            done = gast.Assign(targets=[target], value=ret.value, type_comment=None)
            gast.copy_location(done, s)
            done.lineno = s.lineno
            stmts.append(done)
        return self.block(stmts, stack + (helper.__code__,), depth + 1, in_loop)

    def helper(self, call: gast.Call, stack, in_loop: bool):
        """The plain function of this file ``call`` calls by a global name (None: not one)."""
        func = call.func
        if not isinstance(func, gast.Name) or func.id in self.locals:
            return None
        g = self.globals.get(func.id)
        if not isinstance(g, types.FunctionType) or g.__globals__ is not self.globals:
            return None
        code = g.__code__
        if code in stack or code.co_freevars or g.__name__ == "<lambda>" \
                or code.co_flags & (inspect.CO_GENERATOR | inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR |
                                    inspect.CO_VARARGS | inspect.CO_VARKEYWORDS) \
                or getattr(g, "__wrapped__", None) is not None:
            return None
        if any(isinstance(a, gast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords):
            return None
        if _takes_gradients(g):
            # (a gradient taken in a loop cannot be differentiated again yet: such a helper stays
            # a call there, whose own pair can)
            if in_loop or _has_loop(g):
                return None
        elif not self.formats:
            return None
        return g

    def body(self, g, call: gast.Call, line: Optional[int]) -> Optional[List]:
        """The statements computing ``call`` of ``g`` in the caller, the last a Return (None: not
        inlined)."""
        from .normalize import Normalizer
        from .parse import function_ast
        try:
            gdef, filename, _ = function_ast(g)
        except Exception:
            return None
        if filename != self.filename:
            # another file of the same globals (a notebook cell, exec'd code): its lines numbered
            # from a base of their own in the caller's file, decoded back by every error
            from .runtime.errors import foreign_base
            base = foreign_base(self.filename, filename)
            for n in walk_nodes(gdef):
                if isinstance(getattr(n, "lineno", None), int):
                    n.lineno += base
                    if isinstance(getattr(n, "end_lineno", None), int):
                        n.end_lineno += base
            filename = self.filename
        spec = gdef.args
        if spec.posonlyargs or spec.vararg is not None or spec.kwarg is not None or \
                gdef.decorator_list:
            return None
        if any(isinstance(n, _UNSUPPORTED) for s in gdef.body for n in walk_nodes(s)):
            return None
        params = [a.id for a in spec.args]
        kwonly = [a.id for a in spec.kwonlyargs]
        bound = bind_parameters(params, call.args, [k for k in call.keywords if k.arg not in kwonly],
                                g.__defaults__)
        if bound is None:
            return None
        # keyword-only parameters: by keyword only (a surplus positional argument was refused above)
        keyword_only = bind_parameters(kwonly, [], [k for k in call.keywords if k.arg in kwonly],
                                       tuple((g.__kwdefaults__ or {}).get(n, _NO_DEFAULT) for n in kwonly))
        if keyword_only is None:
            return None
        bound.update(keyword_only)
        params = params + kwonly
        if not self._by_arguments(gdef, params, bound):
            return None
        # its locals get fresh names; the globals it reads must mean the same in the caller
        assigned = {n.id for n in walk_nodes(gdef) if isinstance(n, gast.Name) and
                    isinstance(n.ctx, (gast.Store, gast.Del))}
        stored = set(params) | assigned
        reads = {n.id for n in walk_nodes(gdef) if isinstance(n, gast.Name) and n.id not in stored}
        if reads & self.locals:
            return None
        for name in reads:
            self.namer.reserve(name)
        # a parameter the helper never rebinds reads the caller's argument itself (an atom: the
        # caller's name, which the helper's statements cannot rebind, or a constant)
        same = {p: bound[p] for p in params if p not in assigned and isinstance(bound[p], (gast.Name, gast.Constant))}
        renamed = {name: self.namer.fresh(name) for name in sorted(stored - set(same))}
        gdef.body = [_Substitute(same, renamed).visit(st) for st in gdef.body]
        line = line or gdef.lineno
        prologue = []
        for p in params:                 # the other arguments, bound in order
            if p in same:
                continue
            a = gast.Assign(targets=[gast.Name(id=renamed[p], ctx=gast.Store(), annotation=None,
                                               type_comment=None)],
                            value=copy.deepcopy(bound[p]), type_comment=None)
            a.lineno = line
            prologue.append(a)
        inner = gast.FunctionDef(name=gdef.name, args=gast.arguments(
            args=[], posonlyargs=[], vararg=None, kwonlyargs=[], kw_defaults=[], kwarg=None, defaults=[]),
            body=gdef.body, decorator_list=[], returns=None, type_comment=None, type_params=[])
        inner.lineno = gdef.lineno
        try:
            inner = Normalizer(inner, filename, self.namer, self.rt_name).run()
        except Exception:
            return None          # (refused or unsupported there: left as a call, compiled on its own)
        returns = [n for s in inner.body for n in walk_nodes(s) if isinstance(n, gast.Return)]
        if len(returns) != 1 or inner.body[-1] is not returns[0] or \
                any(isinstance(n, _UNSUPPORTED) for s in inner.body for n in walk_nodes(s)):
            return None
        for name in renamed.values():
            self.locals.add(name)
        self.locals |= {n.id for s in inner.body for n in walk_nodes(s)
                        if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)}
        return prologue + inner.body


    def _by_arguments(self, gdef, params, bound) -> bool:
        """Where the helper has more than one gradient site (one may differentiate another's
        gradient), does every one differentiate by a parameter bound to an argument of the caller?
        (``hvp(x * 2, v)``'s second ``dlgradient(.., x)`` read in place would differentiate a gradient
        by the caller's intermediate value, which is not modelled: such a call stays a call, with
        its own pair, as before.)"""
        sites = []
        for n in walk_nodes(gdef):
            if not isinstance(n, gast.Call):
                continue
            f = n.func
            name = f.id if isinstance(f, gast.Name) else f.attr if isinstance(f, gast.Attribute) else None
            if name in ("dlgradient", "dljacobian", "dldivergence", "dllaplacian"):
                sites.append((name, n))
        if len(sites) < 2:
            return True
        for name, n in sites:
            for a in (n.args[1:] if name == "dlgradient" else n.args[1:2]):
                while isinstance(a, (gast.Subscript, gast.Attribute)):
                    a = a.value
                if isinstance(a, gast.Name) and a.id in params:
                    b = bound.get(a.id)
                    if not (isinstance(b, gast.Name) and b.id in self.arguments):
                        return False
        return True


def _has_loop(g) -> bool:
    """Does ``g``'s code loop (a for/while or a comprehension: a backward jump)?"""
    import dis

    def loops(code) -> bool:
        return any(i.opname in ("JUMP_BACKWARD", "JUMP_ABSOLUTE", "FOR_ITER", "JUMP_BACKWARD_NO_INTERRUPT")
                   for i in dis.get_instructions(code)) or \
            any(isinstance(c, types.CodeType) and loops(c) for c in code.co_consts)
    return loops(g.__code__)


def _takes_gradients(g) -> bool:
    """Does ``g`` call dlgradient (or dljacobian, dldivergence, dllaplacian) by a global name?"""
    from .hooks import API
    sites = API.SITE_FUNCTIONS
    for n in g.__code__.co_names:        # (global names and attribute names: sct.dlgradient too)
        if n in ("dlgradient", "dljacobian", "dldivergence", "dllaplacian") or \
                any(g.__globals__.get(n) is f for f in sites):
            return True
    return False


class _Substitute(gast.NodeTransformer):
    """Parameters read as the caller's arguments, the helper's other names renamed."""

    def __init__(self, same: Dict[str, gast.AST], renamed: Dict[str, str]):
        self.same, self.renamed = same, renamed

    def visit_Name(self, node):
        if node.id in self.same:
            return gast.copy_location(copy.deepcopy(self.same[node.id]), node)
        if node.id in self.renamed:
            node.id = self.renamed[node.id]
        return node
