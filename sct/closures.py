"""Closure conversion: nested functions that read the enclosing function's locals.

Python reads a captured name when the closure is *called* (late binding).  After
normalisation, a nested ``def`` (lambdas are defs by then) whose free names
include locals of the enclosing function gets those names as leading
parameters, so the helper machinery differentiates through them:

* ``g(x)`` called in the enclosing function becomes ``g(w, b, x)``: the values
  passed are the names' values at the call, which is what the closure would
  read (exact, whatever is rebound before or after);
* any other use of ``g`` (passed to a helper, stored in a list, returned,
  rebound under another name) becomes ``rt.bind_closure(g, (w, b), frame, ...)``:
  a ``Closure`` holding the values at that point, differentiable like a tuple.
  It stays exact while none of those names is rebound: every later assignment
  to a captured name expires the closures made before it, and calling an
  expired closure raises an ``EvaluationError`` (sct never calls it with a
  stale value).

A closure that assigns to the enclosing scope (``nonlocal``) or writes into a
captured value is refused.
"""
from __future__ import annotations

import copy
from typing import Dict, List, Optional, Set

import gast

from .ir import assign, call, const, load, walk_no_defs, walk_nodes

SCOPES = (gast.FunctionDef, gast.AsyncFunctionDef, gast.Lambda, gast.ClassDef)
COMPREHENSIONS = (gast.ListComp, gast.SetComp, gast.DictComp, gast.GeneratorExp)
MUTATORS = {"append", "extend", "insert", "pop", "remove", "clear", "sort", "reverse", "update",
            "setdefault", "popitem", "fill", "resize", "itemset", "put", "add", "discard", "__setitem__",
            "__iadd__", "partition"}


def _arg_names(args) -> List[str]:
    names = []
    for a in list(getattr(args, "posonlyargs", []) or []) + list(args.args) + list(args.kwonlyargs):
        names.append(a.id)
    for a in (args.vararg, args.kwarg):
        if a is not None:
            names.append(a.id)
    return names


def _scope_walk(node):
    """The nodes of ``node`` (itself included) evaluated in the scope it is in: yields
    ("node", n) for each, ("bind", name) for a def or class it binds, and ("scope", s) for each
    nested scope met (a def's defaults and decorators, a class's bases, a comprehension's
    first iterable are walked here)."""
    todo = [node]
    while todo:
        n = todo.pop()
        if isinstance(n, (gast.FunctionDef, gast.AsyncFunctionDef)):
            todo.extend(n.args.defaults + [d for d in n.args.kw_defaults if d is not None] +
                        list(n.decorator_list))
            yield ("bind", n.name)
            yield ("scope", n)
            continue
        if isinstance(n, gast.Lambda):
            todo.extend(n.args.defaults + [d for d in n.args.kw_defaults if d is not None])
            yield ("scope", n)
            continue
        if isinstance(n, gast.ClassDef):
            yield ("bind", n.name)
            todo.extend(n.bases + list(n.decorator_list))
            yield ("scope", n)
            continue
        if isinstance(n, COMPREHENSIONS):
            todo.append(n.generators[0].iter)
            yield ("scope", n)
            continue
        if isinstance(n, gast.arguments):
            continue
        yield ("node", n)
        todo.extend(gast.iter_child_nodes(n))


def free_names(scope) -> Set[str]:
    """The names ``scope`` (a def, lambda, class or comprehension) reads from outside itself."""
    free, _ = _frees(scope)
    return free


def _rebound_names(fdef) -> Set[str]:
    """The names ``fdef`` binds more than once (parameters included), or inside a loop."""
    counts: Dict[str, int] = {n: 1 for n in _arg_names(fdef.args)}
    looped: Set[str] = set()
    for node in walk_no_defs(fdef):
        if isinstance(node, gast.Name) and isinstance(node.ctx, (gast.Store, gast.Del)):
            counts[node.id] = counts.get(node.id, 0) + 1
        elif isinstance(node, (gast.For, gast.While)):
            looped |= {n.id for st in node.body + node.orelse for n in walk_no_defs(st)
                       if isinstance(n, gast.Name) and isinstance(n.ctx, (gast.Store, gast.Del))}
            if isinstance(node, gast.For):
                looped |= {n.id for n in walk_nodes(node.target) if isinstance(n, gast.Name)}
    return {n for n, c in counts.items() if c > 1} | looped


def nonlocal_nodes(scope) -> List:
    return [n for n in gast.walk(scope) if isinstance(n, gast.Nonlocal)]


def _frees(scope):
    local: Set[str] = set()
    loads: Set[str] = set()
    declared_global: Set[str] = set()
    declared_nonlocal: Set[str] = set()
    if isinstance(scope, (gast.FunctionDef, gast.AsyncFunctionDef, gast.Lambda)):
        local |= set(_arg_names(scope.args))
        roots = scope.body if isinstance(scope.body, list) else [scope.body]
    elif isinstance(scope, COMPREHENSIONS):
        roots = []
        for i, gen in enumerate(scope.generators):
            roots.append(gen.target)
            if i:
                roots.append(gen.iter)
            roots.extend(gen.ifs)
        roots += [scope.key, scope.value] if isinstance(scope, gast.DictComp) else [scope.elt]
    else:                                      # a class body: its names are not seen by methods
        roots = scope.body
    inner: Set[str] = set()
    for root in roots:
        for kind, item in _scope_walk(root):
            if kind == "bind":
                local.add(item)
            elif kind == "scope":
                inner |= free_names(item)
            else:
                n = item
                if isinstance(n, gast.Name):
                    if isinstance(n.ctx, gast.Load):
                        loads.add(n.id)
                    else:
                        local.add(n.id)
                elif isinstance(n, gast.Global):
                    declared_global |= set(n.names)
                elif isinstance(n, gast.Nonlocal):
                    declared_nonlocal |= set(n.names)
                elif isinstance(n, (gast.Import, gast.ImportFrom)):
                    for alias in n.names:
                        local.add((alias.asname or alias.name).split(".")[0])
                elif isinstance(n, gast.ExceptHandler) and n.name is not None:
                    local.add(n.name.id if isinstance(n.name, gast.Name) else n.name)
    if isinstance(scope, gast.ClassDef):
        free = (loads | inner) - local - declared_global
        return free | declared_nonlocal, local
    local -= declared_global | declared_nonlocal
    free = ((loads | inner) - local - declared_global) | declared_nonlocal
    return free, local


def _own_scope_nodes(node):
    """The nodes of ``node`` (a def: its body) not inside a nested def, lambda, class or comprehension."""
    todo = list(node.body) if isinstance(node, (gast.FunctionDef, gast.AsyncFunctionDef)) else [node]
    while todo:
        n = todo.pop()
        yield n
        if isinstance(n, SCOPES + COMPREHENSIONS):
            continue
        todo.extend(gast.iter_child_nodes(n))


def _header_nodes(s):
    """``_own_scope_nodes`` of a statement without its blocks (an if's test, a for's target and iterable)."""
    if isinstance(s, (gast.FunctionDef, gast.AsyncFunctionDef, gast.ClassDef)):
        return
    for field_name, value in gast.iter_fields(s):
        if field_name in ("body", "orelse", "finalbody", "handlers", "cases"):
            continue
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, gast.AST):
                yield from _own_scope_nodes(item)


def _return_outputs(d, names: List[str]) -> None:
    """The def ``d`` without its nonlocal statements, returning ``(value, *names)`` at each return
    (and at its end)."""
    def outputs(value, where):
        node = gast.Return(value=gast.Tuple(elts=[value if value is not None else const(None)] +
                                            [load(name) for name in names], ctx=gast.Load()))
        return gast.copy_location(node, where)

    def block(stmts: List) -> List:
        out = []
        for st in stmts:
            if isinstance(st, gast.Nonlocal):
                continue
            if isinstance(st, gast.Return):
                out.append(outputs(st.value, st))
                continue
            if not isinstance(st, (gast.FunctionDef, gast.AsyncFunctionDef, gast.ClassDef)):
                for field_name in ("body", "orelse", "finalbody"):
                    if isinstance(getattr(st, field_name, None), list):
                        setattr(st, field_name, block(getattr(st, field_name)))
                for field_name in ("handlers", "cases"):
                    for h in getattr(st, field_name, None) or ():
                        h.body = block(h.body)
            out.append(st)
        return out
    d.body = block(d.body)
    if not d.body or not isinstance(d.body[-1], gast.Return):
        d.body.append(outputs(None, d.body[-1] if d.body else d))


def _blocks(stmts: List):
    """Every statement list of a normalized body (not entering nested defs)."""
    yield stmts
    for s in stmts:
        for field_name in ("body", "orelse"):
            if not isinstance(s, (gast.FunctionDef, gast.AsyncFunctionDef)) and \
                    isinstance(getattr(s, field_name, None), list):
                yield from _blocks(getattr(s, field_name))


def _stored(s) -> Set[str]:
    """Names a normalized statement of the enclosing function binds (not inside nested defs)."""
    names: Set[str] = set()
    if isinstance(s, (gast.FunctionDef, gast.AsyncFunctionDef, gast.ClassDef)):
        return {s.name}
    targets = []
    if isinstance(s, gast.Assign):
        targets = s.targets
    elif isinstance(s, (gast.For,)):
        targets = [s.target]
    elif isinstance(s, gast.With):
        targets = [i.optional_vars for i in s.items if i.optional_vars is not None]
    elif isinstance(s, (gast.Import, gast.ImportFrom)):
        return {(a.asname or a.name).split(".")[0] for a in s.names}
    for t in targets:
        for n in gast.walk(t):
            if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store):
                names.add(n.id)
    return names


def _writes_into(fdef, names: Set[str]) -> Optional[gast.AST]:
    """A statement of ``fdef`` (any depth) that writes into a captured value, if any."""
    for n in gast.walk(fdef):
        if isinstance(n, (gast.Subscript, gast.Attribute)) and isinstance(n.ctx, (gast.Store, gast.Del)):
            base = n.value
            while isinstance(base, (gast.Subscript, gast.Attribute)):
                base = base.value
            if isinstance(base, gast.Name) and base.id in names:
                return n
        if isinstance(n, gast.Call) and isinstance(n.func, gast.Attribute) and n.func.attr in MUTATORS:
            base = n.func.value
            while isinstance(base, (gast.Subscript, gast.Attribute)):
                base = base.value
            if isinstance(base, gast.Name) and base.id in names:
                return n
    return None


def _to_convert(defs, raw, by_name) -> Set[int]:
    """The defs that read the enclosing function's locals (``raw``: the ones each reads), directly
    or through another such def, or that take a name as a default value (a fixed point)."""
    convert: Set[int] = set()
    changed = True
    while changed:
        changed = False
        for d in defs:
            if id(d) in convert:
                continue
            if any(n not in by_name or id(by_name[n]) in convert for n in raw[id(d)]) or \
                    any(isinstance(v, gast.Name) for v in d.args.defaults):
                convert.add(id(d))
                changed = True
    return convert


class ClosureConverter:
    def __init__(self, fdef, namer, rt_name: str, fail, filename: str):
        self.fdef = fdef
        self.namer = namer
        self.rt_name = rt_name
        self.fail = fail
        self.filename = filename
        self.frame: Optional[str] = None
        self.env: Dict[int, List[str]] = {}          # converted def -> the names it takes first
        self.direct: Dict[str, gast.FunctionDef] = {}  # name -> converted def bound once under it
        self.escaping_names: Set[str] = set()         # names held by a bound Closure
        self.fallback: Set[int] = set()               # converted defs bound more than once
        self.outputs: Dict[int, List[str]] = {}       # def -> the enclosing names it assigns (nonlocal)

    def run(self) -> None:
        fdef = self.fdef
        defs = [s for block in _blocks(fdef.body) for s in block
                if isinstance(s, gast.FunctionDef)]
        if not defs:
            return
        enclosing, bind_count = self._enclosing_names()
        self._take_nonlocals(defs, enclosing, bind_count)
        raw = {id(d): free_names(d) & enclosing for d in defs}
        # a def reading its own name (recursion) reads what the name holds when it runs, from its
        # cell, as Python does: not a reason to convert it (``@lru_cache def fib(n)``, normalized
        # to ``fib = lru_cache(...)(fib)``, binds the name twice); one converted for other
        # values it reads is refused (its own name would be passed before the def binds it)
        recursive = {id(d) for d in defs if d.name in raw[id(d)]}
        for d in defs:
            raw[id(d)].discard(d.name)
        by_name: Dict[str, gast.FunctionDef] = {d.name: d for d in defs if bind_count.get(d.name) == 1}
        convert = _to_convert(defs, raw, by_name)
        if not convert:
            return
        for d in defs:
            if id(d) in convert and id(d) in recursive:
                self._check_acyclic(d, [d.name])
        # what each converted def takes first: its captured names (defs not converted are read
        # from their cells as before)
        for d in defs:
            if id(d) in convert:
                self.env[id(d)] = sorted(n for n in raw[id(d)]
                                         if n not in by_name or id(by_name[n]) in convert)
        self.direct = {name: d for name, d in by_name.items() if id(d) in convert}
        rebound = _rebound_names(fdef)
        for d in defs:
            if id(d) in convert and set(self.env[id(d)]) & rebound:
                self._check_inner_escapes(d, set(self.env[id(d)]) & rebound)
        # recursion through captured values cannot be bound: refuse it
        for d in defs:
            if id(d) in convert:
                self._check_acyclic(d, [])
        for d in defs:
            if id(d) in convert:
                self._take_captured(d)
        for d in defs:
            if id(d) in self.outputs:
                if d.name not in self.direct:      # (bound once and converted: checked above)
                    self._refuse_nonlocal([d])
                _return_outputs(d, self.outputs[id(d)])
        self.fallback = {id(d) for d in defs if id(d) in convert and d.name not in self.direct}
        fdef.body = self.rewrite_block(fdef.body)
        if self.frame is not None:
            self.expire_after_stores(fdef.body)
            fdef.body.insert(0, assign(self.frame, call(f"{self.rt_name}.closure_frame",
                                                        [const(self.filename)]), fdef.lineno))

    def _enclosing_names(self):
        """The enclosing function's names, and how many times each is bound (a loop's target
        once more: it is bound at every pass)."""
        enclosing = set(_arg_names(self.fdef.args))
        bind_count: Dict[str, int] = {}
        for block in _blocks(self.fdef.body):
            for s in block:
                for name in _stored(s):
                    enclosing.add(name)
                    bind_count[name] = bind_count.get(name, 0) + 1
                if isinstance(s, gast.For):       # the loop binds its target at every pass
                    for name in _stored(s):
                        bind_count[name] = bind_count.get(name, 0) + 1
        return enclosing, bind_count

    def _take_nonlocals(self, defs, enclosing: Set[str], bind_count: Dict[str, int]) -> None:
        """The defs that assign to the enclosing function's variables (``nonlocal acc``), each with those
        names (``self.outputs``): such a def, bound once and only called (``t = bump(u)``, ``bump(u)``),
        takes them first, as every captured name, and returns their new values after its own
        (``return v, acc``), which each call assigns (``assign_outputs``).  Refused: one
        declaring a name of a function further out, a generator, one that calls itself, and a
        nonlocal inside a def nested in a nested def."""
        for d in defs:
            own = [n for n in _own_scope_nodes(d) if isinstance(n, gast.Nonlocal)]
            if len(own) != len(nonlocal_nodes(d)):
                self._refuse_nonlocal([d])        # (a def nested in this one assigns to a name outside it)
            names = sorted({name for n in own for name in n.names})
            if not names:
                continue
            if any(name not in enclosing for name in names) or bind_count.get(d.name) != 1 or \
                    d.name in free_names(d) or d.decorator_list or \
                    any(isinstance(n, (gast.Yield, gast.YieldFrom, gast.Await)) for n in _own_scope_nodes(d)):
                self._refuse_nonlocal([d])
            self.outputs[id(d)] = names

    def _check_inner_escapes(self, d, names: Set[str]) -> None:
        """``d`` (converted: it takes its captured names first, their values when it is bound) makes a
        function of its own that reads one of ``names`` (captured names the enclosing function binds
        again) and lets it out (returned, stored, passed on): Python's inner function reads the
        enclosing function's variable when it is called, after that rebinding too, where sct's holds
        the value ``d`` was given (``def outer(): return lambda v: v * w``, ``g = outer(); w = 3.0;
        g(x)``: was a silent wrong value, the old w).  Refused at the inner function's line; one only
        called where it is made (``(lambda v: v * w)(u)``, ``inner(u)``) reads the value d has then."""
        _, own = _frees(d)
        called = {id(n.func) for n in walk_nodes(d) if isinstance(n, gast.Call)}
        inner_defs = [n for n in walk_nodes(d) if n is not d and isinstance(n, (gast.FunctionDef, gast.Lambda))]
        for inner in inner_defs:
            read = (free_names(inner) & names) - own
            if not read:
                continue
            if isinstance(inner, gast.Lambda):
                escapes = id(inner) not in called
            else:
                escapes = any(isinstance(n, gast.Name) and n.id == inner.name and isinstance(n.ctx, gast.Load)
                              and id(n) not in called for n in walk_nodes(d))
            if escapes:
                name = sorted(read)[0]
                self.fail(inner, f"a function made inside the nested function {d.name}() that reads {name!r}, "
                          f"which {self.fdef.name}() assigns again, and is returned or kept",
                          f"Python's function would read {name!r} when it is called, after that assignment too, "
                          f"which sct does not follow: pass {name!r} to it as an argument, or bind it as a default "
                          f"({name}={name})")

    def _refuse_nonlocal(self, defs) -> None:
        for d in defs:
            for n in nonlocal_nodes(d):
                self.fail(n, "a nested function that assigns to an enclosing variable (nonlocal "
                          + ", ".join(n.names) + ")",
                          "return the new value from the nested function and assign it in the "
                          "enclosing function")

    def _take_captured(self, d) -> None:
        """A converted def takes its captured names as leading parameters (refused where it
        writes into one of them)."""
        env = self.env[id(d)]
        _, own = _frees(d)
        node = _writes_into(d, set(env) - set(own))
        if node is not None:
            self.fail(node, f"a nested function that writes into a captured value ({d.name}() "
                      "changes a value of the enclosing function)",
                      f"return the new value from {d.name}() and assign it in the enclosing function")
        params = [gast.Name(id=n, ctx=gast.Param(), annotation=None, type_comment=None) for n in env]
        if getattr(d.args, "posonlyargs", None):
            d.args.posonlyargs = params + d.args.posonlyargs
        else:
            d.args.args = params + d.args.args

    def _check_acyclic(self, d, path):
        if d.name in path:
            self.fail(d, f"a recursive nested function that reads values of "
                      f"{self.fdef.name}() ({d.name}())",
                      f"define {d.name}() at module level and pass those values as arguments")
        for n in self.env[id(d)]:
            if n in self.direct:
                self._check_acyclic(self.direct[n], path + [d.name])

    def transitive(self, d) -> List[str]:
        names: List[str] = []
        for n in self.env[id(d)]:
            if n in self.direct:
                names += [m for m in self.transitive(self.direct[n]) if m not in names]
            elif n not in names:
                names.append(n)
        return names

    # --- uses --------------------------------------------------------------------------------
    def bound(self, d, pre: List, line: int, fn_name: Optional[str] = None) -> gast.Name:
        """``rt.bind_closure(d, (env...), frame, names, line)`` emitted into ``pre``."""
        if id(d) in self.outputs:
            self.fail(d, f"a nested function that assigns to an enclosing variable (nonlocal "
                      f"{', '.join(self.outputs[id(d)])}) used other than by calling it",
                      f"call {d.name}() directly in {self.fdef.name}() (not through another function, a list or "
                      f"an argument), or return the new value from it and assign it in the enclosing function")
        if self.frame is None:
            self.frame = self.namer.fresh("closure_frame")
        values = [self.env_value(n, pre, line) for n in self.env[id(d)]]
        values += [copy.deepcopy(v) for v in d.args.defaults]    # the def's own default values
        base = fn_name or d.name
        env_name = self.namer.fresh(base + "_env")
        pre.append(assign(env_name, gast.Tuple(elts=values, ctx=gast.Load()), line))
        tmp = self.namer.fresh(base + "_closure")
        names = self.transitive(d)
        self.escaping_names |= set(names)
        args = [load(fn_name or d.name), load(env_name), load(self.frame),
                gast.Tuple(elts=[const(n) for n in names], ctx=gast.Load()), const(d.lineno),
                const(len(d.args.defaults))]
        shown = [self.namer.shown(n) for n in names]
        what = "the lambda" if getattr(d, "_sct_lambda", False) else getattr(d, "_sct_shown", None)
        if what or shown != list(names):      # what the user wrote, for the expiry's message
            args.append(gast.Tuple(elts=[const(what)] + [const(n) for n in shown], ctx=gast.Load()))
        pre.append(assign(tmp, call(f"{self.rt_name}.bind_closure", args), line))
        return load(tmp)

    def env_value(self, name: str, pre: List, line: int):
        if name in self.direct:
            return self.bound(self.direct[name], pre, line)
        return load(name)

    def rewrite_block(self, stmts: List) -> List:
        out: List = []
        for s in stmts:
            line = getattr(s, "lineno", self.fdef.lineno)
            if isinstance(s, gast.FunctionDef):
                self.rewrite_defaults(s, out, line)
                if id(s) in self.fallback:             # bound more than once: a Closure value
                    name = s.name
                    s._sct_shown = f"the nested function {name}()"
                    s.name = self.namer.fresh(name + "_def")
                    out.append(s)
                    tmp = self.bound(s, out, line, fn_name=s.name)
                    out.append(assign(name, tmp, line))
                    continue
                out.append(s)
                continue
            for field_name in ("body", "orelse"):
                if isinstance(getattr(s, field_name, None), list):
                    setattr(s, field_name, self.rewrite_block(getattr(s, field_name)))
            pre: List = []
            self.rewrite_uses(s, pre, line)
            out.extend(pre)
            after = self.assign_outputs(s) if self.outputs else []
            out.append(s)
            out.extend(after)
        return out

    def assign_outputs(self, s) -> List:
        """``t = bump(acc, u)`` -> ``t_outputs = bump(acc, u); t = t_outputs[0]; acc = t_outputs[1]`` for a def
        that assigns to ``acc`` (nonlocal): the statements that follow ``s``."""
        for n in _header_nodes(s):
            if not (isinstance(n, gast.Call) and isinstance(n.func, gast.Name) and n.func.id in self.direct and
                    id(self.direct[n.func.id]) in self.outputs):
                continue
            names = self.outputs[id(self.direct[n.func.id])]
            if isinstance(s, gast.Assign) and s.value is n and len(s.targets) == 1 and \
                    isinstance(s.targets[0], gast.Name):
                result = s.targets[0].id
            elif isinstance(s, gast.Expr) and s.value is n:
                result = None
            else:
                self.fail(n, f"a call of {n.func.id}(), which assigns to an enclosing variable (nonlocal "
                          f"{', '.join(names)}), inside a larger statement",
                          f"call it on a line of its own (v = {n.func.id}(...))")
            line = getattr(s, "lineno", self.fdef.lineno)
            outputs = self.namer.fresh((result or n.func.id) + "_outputs")
            s.__class__ = gast.Assign
            s.targets = [gast.Name(id=outputs, ctx=gast.Store(), annotation=None, type_comment=None)]
            s.value = n
            s.type_comment = None
            after = [assign(result, gast.Subscript(value=load(outputs), slice=const(0), ctx=gast.Load()), line)] \
                if result is not None else []
            return after + [assign(name, gast.Subscript(value=load(outputs), slice=const(i + 1), ctx=gast.Load()),
                                   line) for i, name in enumerate(names)]
        return []

    def rewrite_defaults(self, s, out, line):
        for field_name in ("defaults", "kw_defaults"):
            values = getattr(s.args, field_name)
            for i, v in enumerate(values):
                if isinstance(v, gast.Name) and v.id in self.direct:
                    values[i] = self.bound(self.direct[v.id], out, line)
        for i, v in enumerate(s.decorator_list):
            if isinstance(v, gast.Name) and v.id in self.direct:
                s.decorator_list[i] = self.bound(self.direct[v.id], out, line)

    def rewrite_uses(self, s, pre: List, line: int):
        """Calls of converted defs get their captured values; other uses a bound Closure."""
        skip_fields = ("body", "orelse") if isinstance(s, (gast.If, gast.For, gast.While, gast.With)) else ()

        def visit(node):
            for field_name, value in gast.iter_fields(node):
                if field_name in skip_fields and node is s:
                    continue
                if isinstance(value, list):
                    for i, item in enumerate(value):
                        new = handle(item)
                        if new is not None:
                            value[i] = new
                elif isinstance(value, gast.AST):
                    new = handle(value)
                    if new is not None:
                        setattr(node, field_name, new)

        def handle(child):
            if isinstance(child, SCOPES):
                return None
            if isinstance(child, gast.Call) and isinstance(child.func, gast.Attribute) and \
                    child.func.attr == "bind_closure" and isinstance(child.func.value, gast.Name):
                return None                        # generated code compiled again: bound already
            if isinstance(child, gast.Call) and isinstance(child.func, gast.Name) and \
                    child.func.id in self.direct:
                d = self.direct[child.func.id]
                for i, a in enumerate(child.args):      # its arguments first
                    target = a.value if isinstance(a, gast.Starred) else a
                    new = handle(target)
                    if new is not None:
                        if isinstance(a, gast.Starred):
                            a.value = new
                        else:
                            child.args[i] = new
                for k in child.keywords:
                    new = handle(k.value)
                    if new is not None:
                        k.value = new
                self.fill_defaults(d, child)
                child.args = [self.env_value(n, pre, line) for n in self.env[id(d)]] + child.args
                return child
            if isinstance(child, gast.Name) and isinstance(child.ctx, gast.Load) and \
                    child.id in self.direct:
                return self.bound(self.direct[child.id], pre, line)
            visit(child)
            return None

        visit(s)

    def fill_defaults(self, d, node: gast.Call):
        """Defaulted parameters a call leaves out are passed explicitly (their values are the
        def's, computed when it ran), so a traced default is differentiated too."""
        if any(isinstance(a, gast.Starred) for a in node.args) or \
                any(k.arg is None for k in node.keywords):
            d._sct_defaults_used = True
            return
        env = self.env[id(d)]
        params = [a.id for a in d.args.args][len(env):] if not getattr(d.args, "posonlyargs", None) \
            else None
        if params is None:
            d._sct_defaults_used = True
            return
        defaults = d.args.defaults
        first_default = len(params) - len(defaults)
        given = {k.arg: k for k in node.keywords}
        if len(node.args) >= len(params):
            return
        added = []
        for i in range(len(node.args), len(params)):
            p = params[i]
            if p in given:
                added.append(given.pop(p).value)
            elif i >= first_default:
                added.append(copy.deepcopy(defaults[i - first_default]))
            else:
                return                  # a missing argument: Python's own error when it runs
        node.args = node.args + added
        node.keywords = [k for k in node.keywords if k.arg in given]
        if any(k.arg in [a.id for a in d.args.kwonlyargs] for k in node.keywords) or \
                len(node.keywords) < sum(1 for a, v in zip(d.args.kwonlyargs, d.args.kw_defaults)
                                         if v is not None):
            d._sct_defaults_used = True

    # --- expiry ------------------------------------------------------------------------------
    def expire_after_stores(self, stmts: List) -> None:
        i = 0
        while i < len(stmts):
            s = stmts[i]
            if isinstance(s, gast.For):
                hit = sorted(_stored(s) & self.escaping_names)
                if hit:
                    s.body[0:0] = [self.expire(hit, s.lineno, True)]
            for field_name in ("body", "orelse"):
                if not isinstance(s, gast.FunctionDef) and isinstance(getattr(s, field_name, None), list):
                    self.expire_after_stores(getattr(s, field_name))
            if not isinstance(s, gast.For):
                hit = sorted(_stored(s) & self.escaping_names)
                if hit:
                    # a plain assignment: the names hold their new values after it (late binding)
                    plain = isinstance(s, (gast.Assign, gast.AugAssign, gast.AnnAssign))
                    stmts.insert(i + 1, self.expire(hit, getattr(s, "lineno", self.fdef.lineno), plain))
                    i += 1
            scope = sorted(set(getattr(s, "_sct_scope", ())) & self.escaping_names)
            if scope:       # a comprehension starts (its first statement): its variables are new ones
                node = gast.Expr(value=call(f"{self.rt_name}.closure_scope", [
                    load(self.frame), gast.Tuple(elts=[const(n) for n in scope], ctx=gast.Load())]))
                node.lineno = getattr(s, "lineno", self.fdef.lineno)
                stmts.insert(i + 1, node)
                i += 1
            i += 1

    def lazy_names(self) -> Set[str]:
        """The variables of generator expressions (lowered to lists, run at once): closures reading
        them expire when they change (a generator's consumer may call each closure before the next
        item, when Python's would read the value of then; the list made at once cannot tell)."""
        if getattr(self, "_lazy", None) is None:
            self._lazy = {n for s in walk_nodes(self.fdef) if getattr(s, "_sct_lazy", False)
                          for n in getattr(s, "_sct_scope", ())}
        return self._lazy

    def expire(self, names, line, bound: bool = False):
        """``rt.closure_rebound(frame, names, line[, new values])``: closures reading ``names`` expire,
        or follow the new values (``bound``: the names hold them here; see ``Closure.rebind``)."""
        args = [load(self.frame), gast.Tuple(elts=[const(n) for n in names], ctx=gast.Load()), const(line)]
        if bound and not set(names) & self.lazy_names():
            args.append(gast.Tuple(elts=[load(n) for n in names], ctx=gast.Load()))
            self.fdef.sct_rebinds = True        # (constant_rebinds looks once activity is known)
        node = gast.Expr(value=call(f"{self.rt_name}.closure_rebound", args))
        node.lineno = line
        return node


def constant_rebinds(fdef, active, rt_name: str) -> None:
    """Once activity is known (``active``: the names that may hold traced values): each
    ``rt.closure_rebound(frame, names, line, new values)`` whose new values are never traced (the
    names holding them here: straight-line code renamed them, ``s = x`` is ``s_1 = x``) gets ``True``
    last, so the closures made before follow the new values whatever they are
    (``[lambda u: u * w for w in (0.5, 0.7, 0.8)]``: each lambda reads the last w when called, as
    Python's do), where they would expire otherwise (a float can be a traced scalar in generated
    code, so the runtime cannot tell a constant from its type).  The value a closure captured
    before gets no adjoint from a call reading the new one (sct/transform_calls.py
    ``_closure_source_pair``), so a traced value rebound to a constant is followed exactly too.
    Was: the user's name looked up, never active where only a later binding is traced
    (``s = 1.0; h = g; s = x; h(x)``: the closure followed x with no derivative, a silent wrong
    gradient; red55r W2), and active where only an earlier one is.  Nested defs are left to
    their own compilation (their own activity)."""
    if not getattr(fdef, "sct_rebinds", False):
        return
    for node in walk_no_defs(fdef):
        if isinstance(node, gast.Call) and isinstance(node.func, gast.Attribute) and \
                node.func.attr == "closure_rebound" and isinstance(node.func.value, gast.Name) and \
                node.func.value.id == rt_name and len(node.args) == 4 and isinstance(node.args[3], gast.Tuple) and \
                all(isinstance(v, gast.Name) and v.id not in active for v in node.args[3].elts):
            node.args.append(const(True))
