"""Python numbers of traced values kept only in outside objects: a logger or an average meter in the loss
(``LOG.log(y)`` storing ``float(v)`` in ``self.hist``, ``METER.update(y)`` adding ``float(v) * n`` to
``self.sum``; red57b F5).

sct differentiates ``float(y)`` (the identity onto a Python number), so a number stored into an outside
object's field or list would carry a derivative that sct does not follow there, and such writes are refused
(sct/write_checks.py).  Where that derivative can never be taken, the number is Python's number without it
(``float(extractdata(y))``, which sct runs in place as Python does): proved here from the code, read in
place (the helpers' and methods' bodies inlined).  The *log statements* are statements of the function's
body (none in a loop, branch or ``try``), found as a fixed point, that bind a name, read only from each other,
to ``float(t)`` / ``int(t)`` / ``t.item()``, a field or constant item of an object from outside (``m_sum =
METER.sum``), or arithmetic of such names, untraced names and numbers, or store such names into an outside
object's field or item, or append them to an outside list (``LOG.hist.append(v)``); each name they bind is
read by log statements only.  A loop of the body that only logs (``for k in g: log.append(float(
np.linalg.norm(g[k])))``: ops, pure helpers and builtins, names read by nothing after it, appends to outside
lists; ``log_loop``) is one log statement, its conversions among them (red58b R2).  Their conversions of traced values take no derivative then, provided that no
derivative is taken after them of what could read the outside objects back: every statement from the first
of them to the last that takes a derivative is a log statement or one that only binds, differentiates and
computes arithmetic of names (logged_values._after_ok), and no statement after that calls code of the user's.
"""
from __future__ import annotations

import builtins
import types

import gast

from .ir import walk_nodes
from .logged_values import _after_ok
from .plans import CallKind

_CONVERSIONS = ("float", "int")
_PLAIN_CALLS = ("max", "min", "abs", "round")
# the builtins a logging loop may call (they change none of their arguments)
_LOOP_BUILTINS = frozenset(("float", "int", "str", "len", "range", "min", "max", "abs", "round", "print",
                            "format", "repr", "bool", "isinstance", "sorted", "list", "tuple", "sum"))
_LOOP_STATEMENTS = (gast.Assign, gast.If, gast.For, gast.While, gast.Break, gast.Continue, gast.Pass, gast.Expr)
_CLASS_CHECKS = ("method_read_here", "property_read_here")


def _name(e) -> bool:
    return isinstance(e, gast.Name)


def _outside_root(e, outside) -> bool:
    """Is ``e`` a chain of fields or constant items of a name from outside (``LOG.hist``, ``M["loss"]``)?"""
    while isinstance(e, (gast.Attribute, gast.Subscript)):
        if isinstance(e, gast.Subscript) and not isinstance(e.slice, gast.Constant):
            return False
        e = e.value
    return _name(e) and e.id in outside


class _LogStatements:
    def __init__(self, fdef, activity, globals_, local_names, rt_name: str):
        self.fdef, self.activity, self.globals, self.locals, self.rt = fdef, activity, globals_, local_names, rt_name
        stored = {n.id for n in walk_nodes(fdef) if _name(n) and not isinstance(n.ctx, (gast.Load, gast.Param))}
        self.outside = {n.id for n in walk_nodes(fdef) if _name(n) and isinstance(n.ctx, gast.Load)} - stored
        # (names bound once to an outside object's field or item: an append to one is a store there)
        every = {n.id for n in walk_nodes(fdef) if _name(n)}
        self.rooted = {s.targets[0].id for s in fdef.body if isinstance(s, gast.Assign) and len(s.targets) == 1 and
                       _name(s.targets[0]) and self._outside_item(s.value, every)}

    def _builtin(self, name: str, names) -> bool:
        return name in names and name not in self.locals and \
            self.globals.get(name, getattr(builtins, name)) is getattr(builtins, name)

    def conversion(self, s):
        """The traced name ``t`` of ``v = float(t)`` / ``int(t)`` / ``t.item()`` (None: not one)."""
        if not (isinstance(s, gast.Assign) and len(s.targets) == 1 and _name(s.targets[0]) and
                isinstance(s.value, gast.Call) and not s.value.keywords):
            return None
        v = s.value
        if _name(v.func) and self._builtin(v.func.id, _CONVERSIONS) and len(v.args) == 1 and _name(v.args[0]):
            t = v.args[0]
        elif isinstance(v.func, gast.Attribute) and v.func.attr == "item" and not v.args and _name(v.func.value):
            t = v.func.value
        else:
            return None
        return t if t.id in self.activity.active else None

    def _operand(self, e, own) -> bool:
        if isinstance(e, gast.Constant):
            return isinstance(e.value, (int, float, bool, str))
        if isinstance(e, gast.Tuple):        # (log.append((float(loss), float(acc))): red58b R2)
            return all(self._operand(v, own) for v in e.elts)
        if _name(e):
            return e.id in own or e.id not in self.activity.active and \
                (e.id in self.locals or e.id in self.outside)
        if isinstance(e, gast.BinOp):
            return self._operand(e.left, own) and self._operand(e.right, own)
        if isinstance(e, gast.UnaryOp):
            return self._operand(e.operand, own)
        if isinstance(e, gast.Call) and not e.keywords and (
                _name(e.func) and self._builtin(e.func.id, _PLAIN_CALLS) or
                isinstance(e.func, gast.Attribute) and e.func.attr == "inplace_result" and
                _name(e.func.value) and e.func.value.id == self.rt):
            return all(self._operand(a, own) for a in e.args)
        return False

    def _outside_item(self, v, own) -> bool:
        """``O.f``, ``O[k]``, ``O.setdefault(k, d)`` (``d`` ``[]`` bound by a log statement) of an outside ``O``."""
        if _outside_root(v, self.outside):
            return True
        return isinstance(v, gast.Call) and isinstance(v.func, gast.Attribute) and \
            v.func.attr == "setdefault" and not v.keywords and len(v.args) == 2 and \
            isinstance(v.args[0], gast.Constant) and _name(v.args[1]) and v.args[1].id in own and \
            _outside_root(v.func.value, self.outside)

    def _loop_call(self, c, stores) -> bool:
        """May ``c``, a call in a logging loop, run there: an op (with or without derivative), a builtin that
        changes nothing, an op's method (``v.sum()``, ``t.item()``) or one of the loop's appends ``stores``?"""
        if id(c) in stores:
            return True
        info = self.activity.call_info(c)
        if info.kind in (CallKind.OP, CallKind.NONDIFF, CallKind.STOP):
            return True
        if info.kind == CallKind.PLAIN:
            return _name(c.func) and c.func.id in _LOOP_BUILTINS and self._builtin(c.func.id, _LOOP_BUILTINS)
        if info.kind == CallKind.FUNCTION and isinstance(info.obj, types.FunctionType):
            # a helper of the user's that changes nothing its caller sees (norm_of(g[k])): what it returns
            # reaches the logs only
            from .callee_effects import _pure
            return _pure(info.obj)
        return info.kind == CallKind.METHOD and info.receiver is not None and \
            not self.activity.user_receiver(info.receiver) and \
            (info.rule is not None or info.method == "item" and not c.args and not c.keywords)

    def log_loop(self, s, after) -> bool:
        """Is ``s`` a loop of the body that only logs (``for k in g: log.append(float(np.linalg.norm(g[k])))``,
        red58b R2): its statements bind names (read by no statement ``after`` it), branch, loop, and append to
        lists from outside; its calls are ops, ops' methods and builtins that change nothing (no code of the
        user's, no derivative).  Nothing it computes reaches the rest of the function but through those
        lists, so it is one log statement: its conversions of traced values take no derivative (where the
        statements after it are checked as after any log statement)."""
        if not isinstance(s, (gast.For, gast.While)):
            return False
        stores, bound, funcs = set(), set(), set()
        # (names bound in the loop only to a field or constant item of an outside object: lg_norms = lg.norms)
        fields = {id(n.targets[0]): n.targets[0].id for n in walk_nodes(s) if isinstance(n, gast.Assign) and
                  len(n.targets) == 1 and _name(n.targets[0]) and _outside_root(n.value, self.outside)}
        rooted = set(fields.values()) - {n.id for n in walk_nodes(self.fdef) if _name(n) and id(n) not in fields
                                         and not isinstance(n.ctx, gast.Load)}
        for n in walk_nodes(s):
            if isinstance(n, gast.Expr) and isinstance(n.value, gast.Call):
                c = n.value
                if isinstance(c.func, gast.Attribute) and c.func.attr == "append" and len(c.args) == 1 and \
                        not c.keywords and (_outside_root(c.func.value, self.outside) or
                                            _name(c.func.value) and c.func.value.id in rooted):
                    stores.add(id(c))
        for n in walk_nodes(s):
            if isinstance(n, gast.stmt) and not isinstance(n, _LOOP_STATEMENTS) or \
                    isinstance(n, gast.Expr) and not isinstance(n.value, (gast.Call, gast.Constant)) or \
                    isinstance(n, (gast.Lambda, gast.Yield, gast.YieldFrom, gast.Await, gast.NamedExpr)):
                return False
            if isinstance(n, gast.Assign) and not all(
                    _name(t) or isinstance(t, (gast.Tuple, gast.List)) and all(_name(e) for e in t.elts)
                    for t in n.targets):
                return False
            if _name(n) and not isinstance(n.ctx, gast.Load):
                bound.add(n.id)
            if isinstance(n, gast.Call):
                if not self._loop_call(n, stores):
                    return False
                funcs.update(id(f) for f in walk_nodes(n.func) if isinstance(f, gast.Attribute))
        if any(isinstance(n, gast.Attribute) and id(n) not in funcs and not _outside_root(n, self.outside)
               for n in walk_nodes(s)):
            return False            # (a field read may run a property's getter: the user's code)
        read_after = {n.id for st in after for n in walk_nodes(st) if _name(n)}
        return bool(stores) and not (bound & (read_after | self.outside))

    def kind(self, s, own):
        """``bind`` / ``store`` where ``s`` may be a log statement (its names ``own`` log names), else None."""
        if isinstance(s, (gast.For, gast.While)):
            body = self.fdef.body
            return "store" if s in body and self.log_loop(s, body[body.index(s) + 1:]) else None
        if isinstance(s, gast.Assign) and len(s.targets) == 1 and _name(s.targets[0]):
            v = s.value
            if self.conversion(s) is not None or self._outside_item(v, own) or self._operand(v, own) or \
                    isinstance(v, gast.List) and not v.elts:
                return "bind"
            return None
        if isinstance(s, gast.Assign) and len(s.targets) == 1 and \
                isinstance(s.targets[0], (gast.Attribute, gast.Subscript)) and \
                _outside_root(s.targets[0], self.outside) and self._operand(s.value, own):
            return "store"
        if isinstance(s, gast.Expr) and isinstance(s.value, gast.Call) and \
                isinstance(s.value.func, gast.Attribute) and s.value.func.attr == "append" and \
                len(s.value.args) == 1 and not s.value.keywords and self._operand(s.value.args[0], own) and \
                (_outside_root(s.value.func.value, self.outside) or
                 _name(s.value.func.value) and s.value.func.value.id in own and s.value.func.value.id in self.rooted):
            return "store"
        return None

    def find(self):
        """The log statements of the body (a set of ids), with the names they bind."""
        body = self.fdef.body
        chosen = {id(s) for s in body if isinstance(s, (gast.Assign, gast.Expr, gast.For, gast.While))}
        while True:
            own = {s.targets[0].id for s in body if id(s) in chosen and isinstance(s, gast.Assign) and
                   _name(s.targets[0])}
            keep = {id(s) for s in body if id(s) in chosen and self.kind(s, own) is not None}
            own = {s.targets[0].id for s in body if id(s) in keep and isinstance(s, gast.Assign) and
                   _name(s.targets[0])}
            # a name bound by a log statement: bound once, read by log statements only
            for s in body:
                for n in walk_nodes(s):
                    if _name(n) and n.id in own and (id(s) not in keep or not isinstance(n.ctx, gast.Load) and
                                                     not (isinstance(s, gast.Assign) and n is s.targets[0])):
                        own.discard(n.id)
            nested = [n for s in body if not isinstance(s, (gast.Assign, gast.Expr)) and id(s) not in keep
                      for n in walk_nodes(s)]
            for n in nested:
                if _name(n):
                    own.discard(n.id)
            keep = {id(s) for s in body if id(s) in keep and not (isinstance(s, gast.Assign) and
                                                                   _name(s.targets[0]) and s.targets[0].id not in own)}
            if keep == chosen:
                return keep
            chosen = keep

    def safe(self, logs) -> bool:
        """Is no derivative taken, after the first log statement, of what could read the outside objects?"""
        body = self.fdef.body
        first = next(i for i, s in enumerate(body) if id(s) in logs)
        sites = [i for i, s in enumerate(body) if any(isinstance(c, gast.Call) and
                                                      self.activity.call_info(c).kind == CallKind.SITE
                                                      for c in walk_nodes(s))]
        last = max(sites, default=-1)
        bound: set = set()
        for i in range(first + 1, len(body)):
            s = body[i]
            if id(s) in logs or isinstance(s, gast.Expr) and isinstance(s.value, gast.Call) and \
                    isinstance(s.value.func, gast.Attribute) and s.value.func.attr in _CLASS_CHECKS and \
                    _name(s.value.func.value) and s.value.func.value.id == self.rt:
                continue        # (sct's check that a method read in place is still the object's: reads its class)
            if i <= last:
                if not _after_ok(s, self.fdef, self.activity, bound, self.globals, self.locals):
                    return False
            elif any(isinstance(c, gast.Call) and self.activity.call_info(c).kind in
                     (CallKind.FUNCTION, CallKind.METHOD, CallKind.SITE) for c in walk_nodes(s)):
                return False
        return True


def _conversion_sites(fdef):
    """The assignments of the body and of its loops' bodies (where a logging loop's conversions are)."""
    for s in fdef.body:
        if isinstance(s, (gast.For, gast.While)):
            yield from (n for n in walk_nodes(s) if isinstance(n, gast.Assign))
        elif isinstance(s, gast.Assign):
            yield s


def detach_log_numbers(fdef, activity, globals_, local_names, rt_name: str) -> bool:
    """Rewrite ``v = float(t)`` of the log statements (see the module), and of the logging loops among them,
    to ``v = float(rt.stop_gradient(t))`` where that is proved exact; whether any was."""
    if not any(isinstance(s.value, gast.Call) and
               (_name(s.value.func) and s.value.func.id in _CONVERSIONS or
                isinstance(s.value.func, gast.Attribute) and s.value.func.attr == "item")
               for s in _conversion_sites(fdef)):
        return False        # (no conversion: nothing walked)
    finder = _LogStatements(fdef, activity, globals_, local_names, rt_name)
    if not any(finder.conversion(s) is not None for s in _conversion_sites(fdef)):
        return False
    logs = finder.find()
    loops = [s for s in fdef.body if id(s) in logs and isinstance(s, (gast.For, gast.While))]
    conversions = [s for s in fdef.body if id(s) in logs and finder.conversion(s) is not None] + \
        [n for s in loops for n in walk_nodes(s) if isinstance(n, gast.Assign) and finder.conversion(n) is not None]
    own = {s.targets[0].id for s in fdef.body if id(s) in logs and isinstance(s, gast.Assign) and
           _name(s.targets[0])}
    if not conversions or not any(finder.kind(s, own) == "store" for s in fdef.body if id(s) in logs) or \
            not finder.safe(logs):
        return False
    for s in conversions:
        t = finder.conversion(s)
        stopped = gast.Call(func=gast.Attribute(value=gast.Name(id=rt_name, ctx=gast.Load(), annotation=None,
                                                                type_comment=None),
                                                attr="stop_gradient", ctx=gast.Load()),
                            args=[gast.Name(id=t.id, ctx=gast.Load(), annotation=None, type_comment=None)],
                            keywords=[])
        gast.copy_location(stopped, t)
        if s.value.args:
            s.value.args[0] = stopped
        else:
            s.value.func.value = stopped
    return True
