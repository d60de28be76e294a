"""Formatted dlarrays reached through objects outside the function: checked when the code runs.

Data formats are followed when a function is compiled (``sct/formats.py``): an argument's labels are
part of its kind, and a formatted dlarray read by a name or an attribute of a module, class or namespace
is read with its labels and guarded (``FormatPass.outside_reads``).  A value reached through an object
the compiler cannot follow — an attribute of an instance held by a global or closure (``data.X``), an
item of an outside list or dict picked when the code runs (``Xs[i]``), what ``list(Xs)``, ``getattr``,
``vars``, ``d.get`` or a function run as it is give from such objects — is taken as unformatted there.
Such an object changes in place without recompiling (``data.X = dlarray(A, "SSCB")`` between two calls),
and a formatted dlarray met there ran the deep-learning functions by its labels while their derivatives
and ``dims`` were those of unformatted data (``fullyconnect(data.X, w, b)``: the value right, the
gradient with respect to ``w`` permuted; ``dims(data.X)``: ``""``).

So each such read is followed by ``rt.unformatted_outside(what, value)``, which refuses a formatted
dlarray in the value (in a list, tuple or dict too) when the code runs, at the user's line.
"""
from __future__ import annotations

import numbers
import types
from typing import List, Set

import gast
import numpy as np

from .analysis import Resolver, classify_call
from .cache import Unresolved, _MISSING
from .ir import call, const, load, shared_walks, walk_nodes
from .plans import CallKind

_PLAIN_VALUES = (types.ModuleType, type, numbers.Number, str, bytes, np.ndarray, np.generic, np.ufunc,
                 types.FunctionType, types.BuiltinFunctionType, types.MethodType, type(None), range, slice)


def _holder(value) -> bool:
    """Whether reading an attribute or item of ``value`` may give an object that can change in place
    without the compiled code noticing (a list, dict, tuple or an object of a class)."""
    from .runtime.dlarray import dlarray
    if value is Unresolved or value is _MISSING or isinstance(value, _PLAIN_VALUES) or isinstance(value, dlarray):
        return False
    return isinstance(value, (list, tuple, dict, set)) or hasattr(value, "__dict__") or \
        hasattr(type(value), "__slots__")


def _ours(obj) -> bool:
    """numpy's and sct's functions: their results are followed by the format pass (or plain)."""
    from .runtime.origins import module_top
    return (module_top(obj) or module_top(type(obj))) in ("numpy", "sct", "runtime", "math", "scipy")


class _OutsideReads:
    def __init__(self, fdef, resolver: Resolver, params, rt_name: str, param_kinds=None):
        self.fdef = fdef
        self.resolver = resolver
        self.rt = rt_name
        self.stored: Set[str] = set(params)
        for n in walk_nodes(fdef):
            if isinstance(n, gast.Name) and not isinstance(n.ctx, gast.Load):
                self.stored.add(n.id)
            elif isinstance(n, gast.FunctionDef) and n is not fdef:
                self.stored.add(n.name)
        # keyword-only parameters and **kwargs: their values' kinds are not followed (a keyword-only
        # parameter's default is read by the code when it runs; a dict of keywords is a constant)
        args = fdef.args
        unfollowed = [a.id for a in args.kwonlyargs if isinstance(a, gast.Name)]
        if isinstance(args.kwarg, gast.Name):
            unfollowed.append(args.kwarg.id)
        self.tainted: Set[str] = {n for n in unfollowed if n not in params or n == getattr(args.kwarg, "id", None)}
        self.stored |= self.tainted
        self.followed: dict = {}
        # arguments holding formatted dlarrays in objects: objects are not unwrapped when the code runs, so
        # a part of one the format pass does not follow (vars(data)["X"], data.xs.copy()[0]) would reach the
        # code formatted where the labels were compiled away
        for name, kind in (param_kinds or {}).items():
            if _formatted_in_object(kind):
                self.tainted.add(name)
        self.param_kinds = dict(param_kinds or {})
        self.store_counts: dict = {}
        for n in walk_nodes(fdef):
            if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store):
                self.store_counts[n.id] = self.store_counts.get(n.id, 0) + 1
        self.local_kinds: dict = {}
        for n in walk_nodes(fdef):          # names bound once to a part of an argument (h = m.sub)
            if isinstance(n, gast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], gast.Name) and \
                    self.store_counts.get(n.targets[0].id) == 1 and \
                    isinstance(n.value, (gast.Name, gast.Attribute, gast.Subscript)):
                kind = self.kind_at(n.value)
                if kind is not None:
                    self.local_kinds[n.targets[0].id] = kind

    # --- the kinds of the parts of arguments ----------------------------------------------------
    def kind_at(self, v):
        """The kind (sct.kinds) of an argument, or a part of one, that ``v`` reads; None if not known."""
        from .kinds import child_kind
        if isinstance(v, gast.Name):
            if v.id in self.param_kinds and not self.store_counts.get(v.id):
                return self.param_kinds[v.id]
            return self.local_kinds.get(v.id)
        if isinstance(v, gast.Attribute):
            base = self.kind_at(v.value)
            return child_kind(base, v.attr) if _user_object_kind(base) else None
        if isinstance(v, gast.Subscript) and isinstance(v.slice, gast.Constant):
            base = self.kind_at(v.value)
            if isinstance(base, tuple) and base and base[0] in ("seq", "map"):
                return child_kind(base, v.slice.value)
        return None

    def class_level(self, v) -> bool:
        """``m.X`` of an argument's object where ``X`` is none of its own attributes (a class
        attribute, read through the object): its kind is not part of the argument's."""
        if not isinstance(v, gast.Attribute) or v.attr.startswith("__"):
            return False
        base = self.kind_at(v.value)
        if isinstance(base, tuple) and len(base) == 2 and base[0] == "const" and isinstance(base[1], type) and \
                base[1] not in (str, bytes, bool, type(None)):
            return True     # an object whose kind is its class alone (slotted): no attribute is followed
        if not _user_object_kind(base):
            return False
        try:
            return v.attr not in dict(base[2])
        except (TypeError, ValueError):
            return False

    # --- which values may come from an outside object ------------------------------------------
    def tainted_expr(self, v) -> bool:
        if isinstance(v, gast.Name):
            if v.id in self.stored:
                return v.id in self.tainted
            return _holder(self.resolver.resolve_name(v.id))
        if isinstance(v, gast.Attribute):
            try:
                static = self.resolver.resolve(v)
            except Exception:
                static = Unresolved
            if static is not Unresolved and static is not _MISSING:
                return _holder(static)          # (a module's, class's or namespace's: guarded)
            return self.class_level(v) or self.tainted_expr(v.value)
        if isinstance(v, gast.Subscript):
            return self.tainted_expr(v.value)
        if isinstance(v, gast.Call):
            return self.call_reads(v)[0]
        return False

    def call_reads(self, node: gast.Call):
        """(whether its result may come from an outside object, whether to check it)."""
        args = list(node.args) + [k.value for k in node.keywords]
        receiver = [node.func.value] if isinstance(node.func, gast.Attribute) else []
        from_outside = any(self.tainted_expr(a) for a in args + receiver)
        try:
            info = classify_call(node, self.resolver)
        except Exception:
            return from_outside, from_outside
        if isinstance(node.func, gast.Attribute) and node.func.attr == "dlarray_of":
            return False, False                  # the format pass's conversion to the data: plain
        if info.obj is not None and _ours(info.obj):
            return from_outside, False
        if info.kind == CallKind.PLAIN and info.obj is not None and not isinstance(
                info.obj, (types.BuiltinFunctionType, types.BuiltinMethodType, type)):
            return True, True                    # a function or callable object run as it is
        return from_outside, from_outside

    def find(self) -> None:
        for _ in range(50):
            before = len(self.tainted)
            for n in walk_nodes(self.fdef):
                if isinstance(n, gast.Assign) and self.tainted_expr(n.value):
                    for t in n.targets:
                        self.tainted |= {m.id for m in walk_nodes(t) if isinstance(m, gast.Name)}
                elif isinstance(n, gast.For) and self.tainted_expr(n.iter):
                    self.tainted |= {m.id for m in walk_nodes(n.target) if isinstance(m, gast.Name)}
            if len(self.tainted) == before:
                return

    # --- the checks ----------------------------------------------------------------------------
    def checked(self, stmt, names: List[str], what: str):
        check = gast.Expr(value=call(f"{self.rt}.unformatted_outside", [const(what)] + [load(n) for n in names]))
        gast.copy_location(check, stmt)
        return check

    def needs_check(self, value) -> bool:
        if isinstance(value, gast.Attribute):
            try:
                static = self.resolver.resolve(value)
            except Exception:
                static = Unresolved
            return (static is Unresolved or static is _MISSING) and \
                (self.class_level(value) or self.tainted_expr(value.value))
        if isinstance(value, gast.Subscript):
            return self.tainted_expr(value.value)
        if isinstance(value, gast.Call):
            return self.call_reads(value)[1]
        return False

    def formatted_from_outside(self, s) -> bool:
        """``t = f(...)`` of an outside value that the format pass takes for formatted data (``d.get(k)``
        of an object's dict): the code holds the dlarray itself there, its labels compiled away."""
        return isinstance(s.value, gast.Call) and isinstance(s.targets[0], gast.Name) and \
            isinstance(self.followed.get(s.targets[0].id), str) and self.call_reads(s.value)[0]

    def block(self, stmts: List) -> List:
        out: List = []
        for i, s in enumerate(stmts):
            out.append(s)
            if isinstance(s, gast.Assign) and len(s.targets) == 1 and \
                    (self.needs_check(s.value) or self.formatted_from_outside(s)):
                names = [m.id for m in walk_nodes(s.targets[0]) if isinstance(m, gast.Name)]
                nxt = stmts[i + 1] if i + 1 < len(stmts) else None
                # not a container whose items the format pass follows by their labels (their reads are
                # checked or converted), nor a read it converts to its data (t = rt.dlarray_of(t_read))
                names = [n for n in names if not isinstance(self.followed.get(n), (tuple, dict)) and
                         not _converted(nxt, n)]
                if names and not _already_checked(nxt, names):
                    out.append(self.checked(s, names, _text(s.value)))
            elif isinstance(s, (gast.For, gast.While, gast.If)):
                s.body = self.block(s.body)
                if isinstance(s, gast.For) and self.tainted_expr(s.iter):
                    names = [m.id for m in walk_nodes(s.target) if isinstance(m, gast.Name)]
                    if names:
                        s.body.insert(0, self.checked(s, names, _text(s.iter) + " (an item)"))
                s.orelse = self.block(s.orelse)
            elif isinstance(s, gast.With):
                s.body = self.block(s.body)
        return out


def _formatted_in_object(kind, inside: bool = False, depth: int = 0) -> bool:
    """Whether the argument kind holds a formatted dlarray inside an object (not unwrapped)."""
    if not isinstance(kind, tuple) or not kind or depth > 20:
        return False
    tag = kind[0]
    if tag == "dl":
        return inside and len(kind) > 3
    if tag == "obj":
        try:
            return any(_formatted_in_object(k, True, depth + 1) for _, k in kind[2])
        except (TypeError, ValueError):
            return False
    if tag == "seq":
        return any(_formatted_in_object(k, inside, depth + 1) for k in kind[2])
    if tag == "map":
        try:
            return any(_formatted_in_object(k, inside, depth + 1) for _, k in kind[2])
        except (TypeError, ValueError):
            return False
    return False


def _user_object_kind(kind) -> bool:
    """An argument's object of the user's class (its own attributes in its kind)."""
    if not (isinstance(kind, tuple) and len(kind) == 3 and kind[0] == "obj" and isinstance(kind[1], type)):
        return False
    from .runtime.origins import module_top
    return module_top(kind[1]) not in ("sct", "runtime", "numpy", "builtins")    # (was a prefix: numpy_models)


def _converted(stmt, name: str) -> bool:
    """``stmt`` is the format pass's ``t = rt.dlarray_of(name)`` (a formatted read given as its data)."""
    return isinstance(stmt, gast.Assign) and isinstance(stmt.value, gast.Call) and \
        isinstance(stmt.value.func, gast.Attribute) and stmt.value.func.attr == "dlarray_of" and \
        len(stmt.value.args) == 1 and isinstance(stmt.value.args[0], gast.Name) and stmt.value.args[0].id == name


def _already_checked(stmt, names) -> bool:
    """The format pass's own check of a call's result (``rt.unformatted_result``) follows already."""
    if not (isinstance(stmt, gast.Expr) and isinstance(stmt.value, gast.Call) and
            isinstance(stmt.value.func, gast.Attribute) and
            stmt.value.func.attr in ("unformatted_result", "unformatted_outside")):
        return False
    return [a.id for a in stmt.value.args[1:] if isinstance(a, gast.Name)] == names


def _text(node) -> str:
    try:
        import astunparse
        return astunparse.unparse(gast.gast_to_ast(node)).strip()
    except Exception:
        return type(node).__name__


def check_outside_reads(fdef, resolver: Resolver, params, rt_name: str, followed=frozenset()) -> None:
    """Follow each read through an outside object of ``fdef`` (normalized) by its check (see above).
    ``followed``: the names whose labels the format pass follows (a formatted value read there is known)."""
    with shared_walks(fdef):        # (the scans read the tree, none changes it: one walk)
        reads = _OutsideReads(fdef, resolver, params, rt_name, params)
        reads.followed = dict(followed)
        reads.find()
    fdef.body = reads.block(fdef.body)
