"""``dlupdate(fun, params, *more)`` differentiated through, written out per parameter.

The runtime's ``dlupdate`` runs as it is inside ``dlfeval`` (``runtime/optim.py``, ``run_as_is``): a
derivative through it was refused.  MATLAB traces it (``fun`` runs on the traced parameters), so a
meta-learning step ``q = dlupdate(lambda w, d: w - lr * d, p, g)`` followed by ``dlgradient(loss(q),
p)`` has the derivative through the inner step.  Where that refusal names a line (compile_function
compiles again with the line, as it does to write loops out: ``sct.compiler._compile_unrolling``),
a statement of that line

    target = dlupdate(fun, params, *more)        (or ``return dlupdate(...)``)

whose ``params`` has a structure known when compiling (a parameter of the function given by position,
whose kind the compiled code is for, a part of one by constant keys, a name bound to one or to a
dlupdate written out before: straight-line code, the loops sct/unroll.py wrote out included) is
written as what dlupdate computes for that structure, in its order::

    dlupdate_fun = fun                          (a lambda or any expression: evaluated once, first)
    rt.dlupdate_structure("<spec>", params, *more)
    u0 = dlupdate_fun(params["W"], g["W"])      (each leaf dlupdate passes to fun, depth first)
    u1 = dlupdate_fun(params["b"], g["b"])
    rt.dlupdate_single(u0)
    target = {"W": u0, "b": u1}

dicts (exactly dict, str or int keys), lists, tuples and dataclasses (the @dataclass ``__init__``, no
``__post_init__``: rebuilt with ``rt.dataclass_replaced``, the fields holding arrays changed), nested, of
arrays, dlarrays and numbers: the code the user could have written, which the compiler differentiates
to any order.  ``rt.dlupdate_structure`` checks when it runs that the values have that structure (the
keys in that order, each leaf one that dlupdate passes to ``fun``, the companions indexable where the
parameters are, not None or ``[]`` there, labels in the parameter's order) and ``rt.dlupdate_single``
that ``fun`` returned one value (a tuple makes dlupdate return several structures): otherwise an
SctError at the line, never another value.  A literal ``None`` companion (MATLAB's ``[]``) is None for
every leaf, as dlupdate's.  Anything else (a dlnetwork, an object, a namedtuple, a dict subclass, a
structure known only when it runs, the call inside another expression) keeps the refusal.
"""
from __future__ import annotations

import contextlib
import copy
import dataclasses
from typing import Dict, List, Optional, Sequence

import gast
import numpy as np

from . import hooks
from .errors import CompileError
from .ir import assign, call, const, expr_stmt, load, local_names, walk_nodes

_DEFS = (gast.FunctionDef, gast.AsyncFunctionDef, gast.ClassDef, gast.Lambda)


@contextlib.contextmanager
def marking_dlupdate(obj, line):
    """A CompileError raised inside, refusing a derivative through ``obj`` on ``line``, is marked where
    ``obj`` is dlupdate: compile_function compiles again with that line written out
    (``rewrite_dlupdates``)."""
    try:
        yield
    except CompileError as error:
        from .runtime.optim import dlupdate
        if obj is dlupdate and isinstance(line, int):
            error.dlupdate_line = line
        raise


def dlupdate_line_of(error) -> Optional[int]:
    return getattr(error, "dlupdate_line", None)


# --- the structure of a kind ------------------------------------------------------------------------

def spec_of_kind(kind):
    """The structure dlupdate walks of a value of ``kind`` (see ``rt.dlupdate_structure``), or None where
    it is not one written out here."""
    if not isinstance(kind, tuple) or not kind:
        return None
    tag = kind[0]
    if tag in ("dl", "nd", "num"):
        return "L"
    if tag == "const" and len(kind) > 1 and kind[1] is type(None):
        # a None among the parameters (``{"W": W, "b": None}``, no bias): dlupdate leaves it None without
        # calling fun (was: refused here, the whole structure taken for unknown)
        return "N"
    if tag == "map" and len(kind) > 2 and kind[1] is dict:
        items = []
        for key, sub in kind[2]:
            part = spec_of_kind(sub)
            if type(key) not in (str, int) or part is None:
                return None
            items.append((key, part))
        return ("d", tuple(items))
    if tag == "seq" and len(kind) > 2 and kind[1] in (list, tuple):
        parts = tuple(spec_of_kind(sub) for sub in kind[2])
        if any(p is None for p in parts):
            return None
        return ("l" if kind[1] is list else "t", parts)
    if tag == "obj" and len(kind) > 2 and isinstance(kind[1], type):
        from .runtime.dlupdate_checks import dlupdate_class_fits
        cls = kind[1]
        if not dlupdate_class_fits(cls):
            return None
        names = [f.name for f in dataclasses.fields(cls)]
        if [n for n, _ in kind[2]] != names:           # (an attribute besides the fields: left as it is)
            return None
        fields = []
        for name, sub in kind[2]:
            part = _field_spec(sub)
            if part is None:
                return None
            fields.append((name, part))
        return ("c", cls.__qualname__, tuple(fields))
    return None


def _field_spec(kind):
    """A dataclass field's part: "L" for an array dlupdate changes (a dlarray, a float array), "K" for
    a value it keeps (a number, None, a string, a bool, an integer array), a container's structure; None
    where the kind does not say which (a rank-0 value: an array or a numpy scalar)."""
    if not isinstance(kind, tuple) or not kind:
        return None
    tag = kind[0]
    if tag == "dl":
        # a dlarray field of any rank (dlarray(0.3) too) is one dlupdate changes (optim._holds_arrays; was:
        # refused as a rank-0 value, red50 FR1)
        return "L"
    if tag == "nd":
        if len(kind) < 3 or kind[2] == 0:
            return None
        try:
            return "L" if np.issubdtype(np.dtype(kind[1]), np.inexact) else "K"
        except TypeError:
            return None
    if tag == "num":
        return "K"
    if tag == "const" and len(kind) > 1 and kind[1] in (type(None), str, bool):
        return "K"
    if tag in ("map", "seq"):
        part = spec_of_kind(kind)
        # (a container holding no array is kept as it is: not written out here)
        return part if part is not None and _holds_leaf(part) and _all_arrays(kind) else None
    return None


def _holds_leaf(part) -> bool:
    if part in ("L", "N"):
        return part == "L"
    if part[0] == "c":
        return any(p != "K" and _holds_leaf(p) for _, p in part[2])
    children = [p for _, p in part[1]] if part[0] == "d" else part[1]
    return any(_holds_leaf(p) for p in children)


def _all_arrays(kind) -> bool:
    """Does a container's every leaf hold an array (what dlupdate's _holds_arrays sees at once)?"""
    tag = kind[0]
    if tag in ("dl", "nd"):
        return len(kind) > 2 and kind[2] > 0 and _field_spec(kind) == "L"
    if tag == "map":
        return all(_all_arrays(sub) for _, sub in kind[2])
    if tag == "seq":
        return all(_all_arrays(sub) for sub in kind[2])
    return False


def _child(part, step):
    """The part of ``part`` at ``step`` ((kind, key) of a constant subscript or attribute), or None."""
    how, key = step
    if part is None or part == "L":
        return None
    if part[0] == "d" and how == "item":
        return next((p for k, p in part[1] if k == key and type(k) is type(key)), None)
    if part[0] in ("l", "t") and how == "item" and type(key) is int and -len(part[1]) <= key < len(part[1]):
        return part[1][key]
    if part[0] == "c" and how == "attr":
        found = next((p for n, p in part[2] if n == key), None)
        return None if found == "K" else found
    return None


# --- the pass ------------------------------------------------------------------------------------

def rewrite_dlupdates(fn, fdef, kinds: Sequence, lines, namer, rt_name: str) -> List:
    """Write out the ``dlupdate`` calls on ``lines`` (see the module's doc) in ``fdef``'s body, in place;
    the function expressions now read instead of ``dlupdate`` (guarded by the caller)."""
    return rewrite_known(fn, fdef, known_parameters(fdef, kinds), lines, namer, rt_name)


def known_parameters(fdef, kinds, names=None) -> Dict[str, object]:
    """The structure of each parameter of ``fdef`` given by position (of those in ``names``, where
    given) whose kind is one written out here."""
    params = [a.id for a in fdef.args.args if isinstance(a, gast.Name)]
    known: Dict[str, object] = {}
    for name, kind in zip(params, tuple(kinds or ())[:len(params)]):
        part = spec_of_kind(kind)
        if part is not None and (names is None or name in names):
            known[name] = part
    return known


def rewrite_known(fn, fdef, known: Dict[str, object], lines, namer, rt_name: str) -> List:
    """``rewrite_dlupdates`` with the structures of names known at the top of ``fdef``'s body (a helper
    read in place, sct/inline_helpers.py: the caller's arguments it reads); ``fn``: the function whose
    globals the body reads."""
    if any(isinstance(n, (gast.Global, gast.Nonlocal)) for n in walk_nodes(fdef)):
        return []           # (a name the calls of fun may rebind)
    writer = _Writer(fn, set(lines), namer, rt_name, _dlupdate_object(), local_names(fdef))
    fdef.body = writer.block(fdef.body, dict(known))
    return writer.guards


def _display_part(node, known):
    """The structure of a display (``[W, b]``, ``{"W": W, "b": b}``, nested), its items the parts known
    of names, else leaves (checked as leaves when the dlupdate runs); None for ``**`` / ``*``, other keys."""
    if isinstance(node, gast.Dict):
        items = []
        for k, v in zip(node.keys, node.values):
            if not (isinstance(k, gast.Constant) and type(k.value) in (str, int)):
                return None
            part = _display_part(v, known)
            if part is None:
                return None
            items.append((k.value, part))
        if len({(type(k), k) for k, _ in items}) != len(items):
            return None             # (a key written twice: the display's last value)
        return ("d", tuple(items))
    if isinstance(node, (gast.List, gast.Tuple)):
        if any(isinstance(e, gast.Starred) for e in node.elts):
            return None
        parts = tuple(_display_part(e, known) for e in node.elts)
        if any(p is None for p in parts):
            return None
        return ("l" if isinstance(node, gast.List) else "t", parts)
    if isinstance(node, gast.Name) and node.id in known:
        return known[node.id]
    if isinstance(node, gast.Constant) and node.value is None:
        return "N"
    return "L"


def _item_written(s, known):
    """``q["W"] = v`` of a dict (list) whose structure is known, at a key (position) it has: the same
    structure, the item a leaf now (checked as one where a dlupdate reads it); else None."""
    if not (isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], gast.Subscript)):
        return None
    t = s.targets[0]
    if not (isinstance(t.value, gast.Name) and isinstance(t.slice, gast.Constant)) or \
            t.value.id in _stored(gast.Expr(value=s.value)):
        return None
    part, key = known.get(t.value.id), t.slice.value
    if part is None or part == "L":
        return None
    if part[0] == "d" and any(k == key and type(k) is type(key) for k, _ in part[1]):
        return t.value.id, ("d", tuple((k, "L" if k == key and type(k) is type(key) else p) for k, p in part[1]))
    if part[0] == "l" and type(key) is int and 0 <= key < len(part[1]):
        return t.value.id, ("l", tuple("L" if i == key else p for i, p in enumerate(part[1])))
    return None


def _dlupdate_object():
    from .runtime.optim import dlupdate
    return dlupdate


# methods of dict, list and tuple that leave the container as it is (``g = {k: v ** 2 for k, v in
# q.items()}`` before ``dlupdate(f, q, g)``: q's structure still known; was: forgotten, refused)
_READING_METHODS = frozenset(("items", "keys", "values", "get", "copy", "index", "count"))


def _stored(node, known=None) -> set:
    """Names a statement binds or deletes, or whose value it may change (the base of an item or
    attribute written, the receiver of a method called, but a method of ``_READING_METHODS`` called
    on a name ``known`` holds a dict, list or tuple, exactly those types): their structure is no
    longer known."""
    out = set()
    for n in walk_nodes(node):
        if known and isinstance(n, gast.Call) and isinstance(n.func, gast.Attribute) and \
                n.func.attr in _READING_METHODS and isinstance(n.func.value, gast.Name) and \
                isinstance(known.get(n.func.value.id), tuple) and known[n.func.value.id][0] in ("d", "l", "t"):
            continue
        if isinstance(n, gast.Name) and not isinstance(n.ctx, gast.Load):
            out.add(n.id)
        elif isinstance(n, (gast.FunctionDef, gast.AsyncFunctionDef, gast.ClassDef)):
            out.add(n.name)
        elif isinstance(n, (gast.Import, gast.ImportFrom)):
            out.update((al.asname or al.name).split(".")[0] for al in n.names)
        elif isinstance(n, (gast.Subscript, gast.Attribute)) and not isinstance(n.ctx, gast.Load) or \
                isinstance(n, gast.Call) and isinstance(n.func, gast.Attribute):
            base = n.func.value if isinstance(n, gast.Call) else n.value
            while isinstance(base, (gast.Subscript, gast.Attribute)):
                base = base.value
            if isinstance(base, gast.Name):
                out.add(base.id)
    return out


def _header(s):
    """``s`` without the statements of its blocks: what it binds before (or besides) them."""
    c = copy.copy(s)
    for f in ("body", "orelse", "finalbody", "handlers"):
        if isinstance(getattr(c, f, None), list):
            setattr(c, f, [])
    return c


class _Writer:
    def __init__(self, fn, lines, namer, rt_name, target, local_names):
        self.fn, self.lines, self.namer, self.rt_name = fn, lines, namer, rt_name
        self.target, self.local_names = target, local_names
        self.guards: List = []

    # the statements, in order, with the structure known of each name
    def block(self, stmts: List, known: Dict[str, object]) -> List:
        out: List = []
        for s in stmts:
            written = None
            if getattr(s, "lineno", None) in self.lines:
                written = self.statement(s, known)
            if written is not None:
                out.extend(written)
                continue
            out.append(s)
            if isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], gast.Name) and \
                    isinstance(s.value, gast.Name):
                part = known.get(s.value.id)
                known.pop(s.targets[0].id, None)
                if part is not None:
                    known[s.targets[0].id] = part
                continue
            if isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], gast.Name) and \
                    isinstance(s.value, (gast.Dict, gast.List, gast.Tuple)) and \
                    s.targets[0].id not in _stored(gast.Expr(value=s.value)):
                part = _display_part(s.value, known)      # p = [W, b], {"W": W, "b": b}: its structure
                known.pop(s.targets[0].id, None)
                if part is not None:
                    known[s.targets[0].id] = part
                continue
            kept = _item_written(s, known)
            compound = isinstance(s, (gast.If, gast.For, gast.AsyncFor, gast.While, gast.With, gast.AsyncWith,
                                      gast.Try))
            before = dict(known)
            stored = _stored(s, known)
            for name in stored:
                known.pop(name, None)
            if kept is not None:
                known[kept[0]] = kept[1]
            blocks = [getattr(s, f) for f in ("body", "orelse", "finalbody") if isinstance(getattr(s, f, None), list)]
            blocks += [h.body for h in getattr(s, "handlers", ()) or ()]
            if blocks and not isinstance(s, _DEFS):
                if compound:
                    # a branch, a loop's body (its first pass: a later one is checked where a dlupdate
                    # runs, rt.dlupdate_structure), a with's body: what is known before it, less what
                    # its header binds (``for q in ...``, ``as q``, ``:=``); what runs after the body
                    # (a loop's else, a handler, finally) knows only what the body leaves unbound
                    # (was: everything the statement binds anywhere forgotten first: a loop not
                    # written out refused ``q = dlupdate(f, q)`` in its body)
                    entry = {k: v for k, v in before.items() if k not in _stored(_header(s), before)}
                    after = {k: v for k, v in entry.items() if k not in _stored(gast.Module(body=s.body, type_ignores=[]), before)}
                    s.body[:] = self.block(s.body, dict(entry))
                    if isinstance(s, gast.If):
                        s.orelse[:] = self.block(s.orelse, dict(entry))
                    elif isinstance(s, gast.Try):
                        s.orelse[:] = self.block(s.orelse, dict(after))
                        for h in s.handlers:
                            h_known = {k: v for k, v in after.items() if k not in _stored(_header(h), before)}
                            h.body[:] = self.block(h.body, h_known)
                        s.finalbody[:] = self.block(s.finalbody, {k: v for k, v in after.items() if k not in
                                                                  _stored(s, before)})
                    elif isinstance(getattr(s, "orelse", None), list):
                        s.orelse[:] = self.block(s.orelse, dict(after))
                else:
                    for b in blocks:
                        b[:] = self.block(b, dict(known))
                for name in _stored(s, known):  # (what the written-out blocks bind too)
                    known.pop(name, None)
        return out

    def statement(self, s, known) -> Optional[List]:
        if isinstance(s, (gast.Assign, gast.Return, gast.Expr)) and isinstance(s.value, gast.Call):
            value = s.value
        else:
            return None
        if not self.is_dlupdate(value.func):
            # ``loss(dlupdate(f, p, g), x, y)``: the call given to a function (read by name) after names
            # and constants only, evaluated first as Python does: written out before the statement
            if isinstance(s, gast.Expr) or not _plain_reference(value.func):
                return None
            for i, a in enumerate(value.args):
                if isinstance(a, gast.Call) and self.is_dlupdate(a.func):
                    break
                if not isinstance(a, (gast.Name, gast.Constant)):
                    return None
            else:
                return None
            name = self.namer.fresh("dlupdate_value")
            inner = _located(assign(name, a), s)
            written = self.statement(inner, known)
            if written is None:
                return None
            known.pop(name, None)
            value.args[i] = _located(load(name), a)
            for name in _stored(s):
                known.pop(name, None)
            return written + [s]
        if isinstance(s, gast.Expr):
            return None
        if value.keywords or len(value.args) < 2 or \
                any(isinstance(a, gast.Starred) for a in value.args) or \
                any(isinstance(n, (gast.NamedExpr, gast.Yield, gast.YieldFrom, gast.Await))
                    for a in value.args for n in walk_nodes(a)):
            return None
        fun, params, more = value.args[0], value.args[1], value.args[2:]
        path = []
        base = params
        while isinstance(base, (gast.Subscript, gast.Attribute)):
            if isinstance(base, gast.Attribute):
                path.append(("attr", base.attr))
            elif isinstance(base.slice, gast.Constant) and type(base.slice.value) in (str, int):
                path.append(("item", base.slice.value))
            else:
                return None
            base = base.value
        if isinstance(params, (gast.Dict, gast.List, gast.Tuple)):
            part = _display_part(params, known)             # dlupdate(f, [W, b], g)
        elif not isinstance(base, gast.Name) or base.id not in known:
            return None
        else:
            part = known[base.id]
            for step in reversed(path):
                part = _child(part, step)
        if part is None or part == "N":
            return None             # (dlupdate(f, None): refused when it runs, as it runs)
        if isinstance(fun, gast.Lambda) and isinstance(fun.body, gast.Tuple):
            return None         # (several outputs: several structures, left to the refusal)
        line = s.lineno
        out: List = []

        def bound(expr, hint):
            if isinstance(expr, gast.Name):
                return expr.id
            name = self.namer.fresh(hint)
            out.append(_located(assign(name, expr), s))
            return name
        inlined = _inlinable(fun, 1 + len(more))
        fun_name = None if inlined else bound(fun, "dlupdate_fun")
        params_name = bound(params, "dlupdate_params")
        others = [None if isinstance(m, gast.Constant) and m.value is None else bound(m, "dlupdate_arg")
                  for m in more]
        out.append(_located(expr_stmt(call(f"{self.rt_name}.dlupdate_structure",
                                           [const(repr(part)), load(params_name)] +
                                           [load(o) for o in others if o is not None])), s))
        results: List[str] = []
        hint = s.targets[0].id if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name) else "dlupdate"

        def leaf(steps):
            args = [_reading(load(params_name), steps)] + \
                [const(None) if o is None else _reading(load(o), steps) for o in others]
            name = self.namer.fresh(f"{hint}_leaf")
            if inlined:
                # the lambda's body with its parameters bound to the arguments, evaluated first (a
                # call of a lambda the compiler follows as it does the user's own expression)
                names = {}
                for a, arg in zip(fun.args.args, args):
                    names[a.id] = self.namer.fresh(f"{hint}_{a.id}")
                    out.append(_located(assign(names[a.id], arg), s))
                out.append(_located(assign(name, _Bound(names).visit(copy.deepcopy(fun.body))), s))
            else:
                out.append(_located(assign(name, call(load(fun_name), args)), s))
            results.append(name)
            return load(name)

        def built(p, steps):
            if p == "L":
                return leaf(steps)
            if p == "N":
                return const(None)          # (dlupdate calls no fun there: checked None when it runs)
            if p[0] == "d":
                keys, values = [], []
                for k, sub in p[1]:
                    keys.append(const(k))
                    values.append(built(sub, steps + [("item", k)]))
                return gast.Dict(keys=keys, values=values)
            if p[0] in ("l", "t"):
                elts = [built(sub, steps + [("item", i)]) for i, sub in enumerate(p[1])]
                return (gast.List if p[0] == "l" else gast.Tuple)(elts=elts, ctx=gast.Load())
            changed = [(n, built(sub, steps + [("attr", n)])) for n, sub in p[2] if sub != "K"]
            return call(f"{self.rt_name}.dataclass_replaced",
                        [_reading(load(params_name), steps),
                         gast.Dict(keys=[const(n) for n, _ in changed], values=[v for _, v in changed])])
        result = built(part, [])
        if results:
            out.append(_located(expr_stmt(call(f"{self.rt_name}.dlupdate_single", [load(results[0])])), s))
        if isinstance(s, gast.Assign):
            final = gast.Assign(targets=s.targets, value=result, type_comment=None)
        else:
            final = gast.Return(value=result)
        out.append(_located(final, s))
        for n in out:
            for m in walk_nodes(n):
                if isinstance(m, (gast.stmt, gast.expr)) and getattr(m, "lineno", None) is None:
                    m.lineno = line
                    m.col_offset = getattr(s, "col_offset", 0)
        self.guards.append(value.func)
        # what the target holds now: the structure dlupdate returns (fun's values as leaves)
        for name in _stored(final):
            known.pop(name, None)
        if isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], gast.Name):
            known[s.targets[0].id] = part    # (fun's values its leaves: checked as leaves where read again)
        return out

    def is_dlupdate(self, func) -> bool:
        """Is ``func`` sct's dlupdate: a global (or closure) name bound to it, or ``module.dlupdate``."""
        chain = []
        node = func
        while isinstance(node, gast.Attribute):
            chain.append(node.attr)
            node = node.value
        if not isinstance(node, gast.Name) or node.id in self.local_names:
            return False
        if getattr(self.fn, "__code__", None) is None:
            return False
        missing = hooks.CALL_TREE.missing
        value = hooks.CALL_TREE.outside_value(self.fn, node)      # (sct/call_tree.py's reading)
        for attr in reversed(chain):
            if value is missing:
                return False
            value = getattr(value, attr, missing)
        return value is self.target


_SCOPES = (gast.Lambda, gast.ListComp, gast.SetComp, gast.DictComp, gast.GeneratorExp, gast.NamedExpr,
           gast.Yield, gast.YieldFrom, gast.Await)


def _inlinable(fun, count: int) -> bool:
    """Is ``fun`` a lambda of ``count`` plain positional parameters (no defaults, ``*args``, keywords)
    whose body has no scope of its own (a comprehension, a lambda) nor ``:=``: its call is its body
    with the parameters bound to the arguments (Python's own semantics, the free names read where it
    is called, as a closure reads them)?"""
    if not isinstance(fun, gast.Lambda):
        return False
    a = fun.args
    if a.posonlyargs or a.kwonlyargs or a.vararg is not None or a.kwarg is not None or a.defaults or \
            len(a.args) != count or not all(isinstance(p, gast.Name) for p in a.args) or \
            len({p.id for p in a.args}) != count:
        return False
    return not any(isinstance(n, _SCOPES) for n in walk_nodes(fun.body))


class _Bound(gast.NodeTransformer):
    """A lambda's body with its parameters read from the names they are bound to."""

    def __init__(self, names: Dict[str, str]):
        self.names = names

    def visit_Name(self, node):
        if node.id in self.names and isinstance(node.ctx, gast.Load):
            return gast.copy_location(load(self.names[node.id]), node)
        return node


def _plain_reference(node) -> bool:
    """A name or an attribute chain on one (evaluating it first reads what Python reads)."""
    while isinstance(node, gast.Attribute):
        node = node.value
    return isinstance(node, gast.Name)


def _reading(node, steps):
    for how, key in steps:
        node = gast.Attribute(value=node, attr=key, ctx=gast.Load()) if how == "attr" else \
            gast.Subscript(value=node, slice=const(key), ctx=gast.Load())
    return node


def _located(node, s):
    return gast.copy_location(node, s)
