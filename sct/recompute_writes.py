"""Outside objects a function changes and reads, in code a second derivative recomputes.

A gradient that a later ``dlgradient`` differentiates again gets a sweep that recomputes, from the
arguments, the code before it, and with it every helper that code calls (``effects``: draws, prints
and the user's calls that are not differentiated are replayed there, not run again).  The objects
from outside a function (a global's, a closure's, an argument's, ``self``) are as the first run left
them when the recomputation reads them.  So a function that changes such an object and reads it
gives the recomputation other values than Python's:

* ``Counter.n = Counter.n + 1`` (``self.k += 1``): the write runs again, on the changed value;
* ``a = Cfg.scale`` before ``Cfg.scale = ...``: the recomputed read sees the new value;
* ``LOG.append(v)`` (replayed: it runs once) with ``len(LOG)`` read: the read sees the final list;
* ``bump()``, a function run as plain Python (replayed) that writes into a global the function
  reads.

``conflict`` finds the first such statement of a function's normalized code (or None).  The
generated code then calls ``rt.recompute_guard(message)``, which raises an ``EvaluationError`` when
it runs in a recomputation, and does nothing in the first run (a first derivative, or a function
no later ``dlgradient`` recomputes, is unaffected).  A write that runs again with the same value and
that nothing read before (``self.cache = x``) is left alone.

Parts are told apart by the names they are reached through; two of them may still be one object
(``trainer.set_training(False); y = model(x)`` with ``trainer.model is model``, a global trainer, the same
object passed twice).  For each outside value changed by a replayed call and each other one read where
the recomputation sees the change, ``alias_guard`` makes ``rt.recompute_alias_guard``, which refuses the
recomputation where the two reach a common object (red team 49).
"""
from __future__ import annotations

import ast
import types
from typing import Callable, Dict, Iterator, List, Optional, Set, Tuple

import gast

from .global_writes import _functions_of, _library, _library_code
from .runtime.origins import module_name, module_top
from .ir import walk_nodes, walk_nodes_list

# methods that change the object they are called on (lists, dicts, sets, deques, arrays)
MUTATING_METHODS = frozenset((
    "append", "extend", "insert", "pop", "remove", "clear", "update", "setdefault", "popitem", "add",
    "discard", "sort", "reverse", "fill", "resize", "itemset", "put", "appendleft", "extendleft",
    "popleft", "rotate", "difference_update", "intersection_update", "symmetric_difference_update",
    "__setitem__", "__delitem__", "__setattr__", "__delattr__", "__iadd__", "__imul__", "__next__", "send",
    "throw"))
# those whose result reads the object they change (``k = STACK.pop()``, ``IT.__next__()``): run again in
# a recomputation, they give another value
READING_METHODS = frozenset(("pop", "popleft", "popitem", "setdefault", "__next__", "send", "throw"))


def _changing_functions() -> Dict[int, bool]:
    """Library functions that change the object passed as their first argument (id -> whether
    their result reads it too): ``next(IT)`` advances an iterator, ``heapq.heappush(H, v)`` grows a
    list, ``bisect.insort(L, v)``, ``random.shuffle(L)``; run again (or replayed) in a recomputation."""
    import bisect
    import builtins
    import heapq
    import operator
    import random
    reading = [builtins.next, heapq.heappop, heapq.heapreplace, heapq.heappushpop, operator.iadd, operator.isub,
               operator.imul, operator.iconcat]
    writing = [builtins.setattr, builtins.delattr, heapq.heappush, heapq.heapify, bisect.insort, bisect.insort_left,
               bisect.insort_right, random.shuffle, operator.setitem, operator.delitem]
    return dict([(id(f), True) for f in reading] + [(id(f), False) for f in writing])


CHANGING_FUNCTIONS = _changing_functions()
_WHOLE = "*"
_ITEMS = "[]"
_DEPTH = 4


class _Outside:
    """The outside object each name of ``fdef`` is (a part of): (root, first field), or None."""

    def __init__(self, fdef: gast.FunctionDef, params: Set[str], stored: Set[str]):
        self.params = params
        self.stored = stored
        self.origin: Dict[str, Tuple[str, str]] = {}
        # the assignments to one name, in gast.walk's order, found on one walk: each round of the
        # fixed point reads them again (not the whole tree)
        assigns = [node for node in walk_nodes(fdef) if isinstance(node, gast.Assign) and
                   len(node.targets) == 1 and isinstance(node.targets[0], gast.Name)]
        changed = True
        while changed:
            changed = False
            for node in assigns:
                t = node.targets[0].id
                key = self.key(node.value)
                if key is not None and t not in params and t not in self.origin:
                    self.origin[t] = key
                    changed = True

    def root(self, name: str) -> Optional[Tuple[str, str]]:
        if name in self.origin:
            return self.origin[name]
        if name in self.params or name not in self.stored:
            return (name, _WHOLE)
        return None

    def key(self, e) -> Optional[Tuple[str, str]]:
        """The outside object ``e`` (a name, attribute or item chain) is a part of, or None."""
        chain = []
        while isinstance(e, (gast.Attribute, gast.Subscript)):
            chain.append(e)
            e = e.value
        if not isinstance(e, gast.Name):
            return None
        base = self.root(e.id)
        if base is None:
            return None
        if base[1] != _WHOLE or not chain:
            return base
        first = chain[-1]
        return (base[0], first.attr if isinstance(first, gast.Attribute) else _ITEMS)


def _overlap(a: Tuple[str, str], b: Tuple[str, str]) -> bool:
    if a[0][:2] == b[0][:2] == "#g":          # a global variable (sct/rebinds.py)
        from .rebinds import overlap
        return overlap(a[0], b[0])
    return a[0] == b[0] and (a[1] == b[1] or _WHOLE in (a[1], b[1]))


def _statements(body: List, loops: Tuple = ()) -> Iterator[Tuple[object, Tuple]]:
    """The simple statements of ``body`` in order, each with the loops around it."""
    for s in body:
        if isinstance(s, (gast.For, gast.While)):
            yield s, loops                                   # its header reads
            yield from _statements(s.body, loops + (id(s),))
            yield from _statements(s.orelse, loops)
        elif isinstance(s, gast.If):
            yield s, loops
            yield from _statements(s.body, loops)
            yield from _statements(s.orelse, loops)
        elif isinstance(s, (gast.With, gast.Try)):
            yield from _statements(s.body, loops)
        elif not isinstance(s, (gast.FunctionDef, gast.ClassDef)):
            yield s, loops


def _header(s) -> List:
    if isinstance(s, (gast.For,)):
        return [s.iter]
    if isinstance(s, (gast.While, gast.If)):
        return [s.test]
    return [s]


class RecomputeWrites:
    """``conflict()``: (line, message) for the first statement of ``fdef`` that changes an outside
    object the function also reads where a recomputation would read it changed, or None."""

    def __init__(self, fdef: gast.FunctionDef, params: Set[str], stored: Set[str], resolve, fname: str,
                 kinds: Optional[Dict[str, object]] = None, show_line=None, guard=None):
        self.fdef = fdef
        # guard(holds): keep the compiled code only while holds() (what a scan of a called function's
        # code read: its code, its helpers'); None: not compiling
        self.guard = guard
        self.show_line = show_line or (lambda line: line)    # a line of fdef -> the user's, for messages
        self.outside = _Outside(fdef, params, stored)
        self.resolve = resolve            # a name or attribute chain -> the object, or None
        self.fname = fname
        self.kinds = kinds or {}          # a local's (a parameter's) kind (sct.kinds): its class
        self._global_roots: Optional[Set[str]] = None
        self.names: Dict[str, str] = {}          # "#id" -> the global's name, for messages
        self.notes: Dict[Tuple[str, str], str] = {}     # why a part counts as changed (implicit calls)
        self.effect_calls: Set[int] = set()      # id(call) of the calls found changing a part
        self.objects: Dict[int, object] = {}     # id -> an object a helper scan found ("#id" parts)

    def reads(self, node, nodes: Optional[List] = None) -> List[Tuple[str, str]]:
        """The outside parts ``node`` reads (a called function's name is not a read); ``nodes``:
        ``walk_nodes(node)``'s, where already walked."""
        out = []
        if nodes is None:
            nodes = walk_nodes_list(node)      # (gast.walk's order, without the leaves: one walk)
        called = {id(n.func) for n in nodes if isinstance(n, gast.Call)}
        rt = getattr(self, "rt_name", None)
        for n in nodes:
            if isinstance(n, gast.Call) and len(n.args) == 4 and isinstance(n.args[3], gast.Constant) and \
                    isinstance(n.func, gast.Attribute) and isinstance(n.func.value, gast.Name) and \
                    n.func.value.id == rt and rt not in self.outside.params and \
                    n.func.attr in ("forwarded_defaults", "forwarded_layout"):
                # rt.forwarded_defaults(self, n, kwargs, "forward"): self.forward looked up for its parameters,
                # as the call self.forward(...) looks it up (sct/normalize_exprs.py forwarded_call), not a read
                called.add(id(n.args[0]))
        inner = set()
        for n in nodes:
            if isinstance(n, (gast.Attribute, gast.Subscript)):
                inner.add(id(n.value))            # o of o.a / o[i]: read as that part, or written into
                if not isinstance(n.ctx, gast.Load):
                    continue
                if id(n) in called and isinstance(n, gast.Attribute):
                    continue                                  # o.method(...): reads o.method only
                key = self.outside.key(n)
                if key is not None:
                    out.append(key)
        for n in nodes:
            if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load) and id(n) not in inner and \
                    id(n) not in called:
                key = self.outside.root(n.id)
                if key is not None:
                    out.append(key)
        return out

    def direct_writes(self, s) -> List[Tuple[Tuple[str, str], bool]]:
        """(part, read-modify-write) for each outside part ``s`` writes into itself."""
        out = []
        targets = s.targets if isinstance(s, gast.Assign) else [s.target] if isinstance(s, gast.AugAssign) \
            else s.targets if isinstance(s, gast.Delete) else []
        for t in targets:
            for n in ([t] if not isinstance(t, (gast.Tuple, gast.List)) else t.elts):
                if isinstance(n, (gast.Attribute, gast.Subscript)):
                    key = self.outside.key(n)
                    if key is not None:
                        out.append((key, isinstance(s, gast.AugAssign)))
        return out

    def replayed_writes(self, s, nodes: Optional[List] = None) -> List[Tuple[Tuple[str, str], bool]]:
        """(part, whether a call of the user's replays it) for the outside parts changed by a call in
        ``s`` that a recomputation replays or runs again: a changing method of an outside object
        (``LOG.append(v)``), a function of the user's that writes into a global this function reads
        (``bump()`` doing ``Cfg.scale = ...``)."""
        out = []
        for n in (walk_nodes(s) if nodes is None else nodes):
            if not isinstance(n, gast.Call):
                continue
            f = n.func
            if isinstance(f, gast.Attribute) and f.attr in MUTATING_METHODS and not self.module(f.value):
                key = self.outside.key(f.value)
                if key is not None:
                    out.append((key, False))
            target, held = self._callee(f)
            if target is None and self.replayed_call(n, True):     # (a replayed method of an argument's
                target, held = self._target(f)   # class, from its kind, writing a global's object: red team 49)
            written = self._scanned(target, True, held) if target is not None else {}
            for obj in self.bound_objects(f, target):
                self.effect_calls.add(id(n))
                out.append(((f"#{id(obj)}", _WHOLE), self.replayed_call(n, True)))
            if written:
                self.effect_calls.add(id(n))
                replayed = self.replayed_call(n, True)
                for name in self.global_roots():
                    if id(self.resolve(gast.Name(id=name, ctx=gast.Load(), annotation=None,
                                                 type_comment=None))) in written:
                        out.append(((name, _WHOLE), replayed))
                for oid, name in written.items():      # read by the helpers this function calls
                    self.names[f"#{oid}"] = name
                    out.append(((f"#{oid}", _WHOLE), replayed))
        return out

    def bound_objects(self, f, target) -> List[object]:
        """The objects a global's or closure's bound method or partial called by name (``SET(False)``,
        ``SET = trainer.set_training``) is bound to, where its code may change them (was: not seen, so a
        recomputation read the model it toggles as the first run left it, red team 49)."""
        import functools
        if not isinstance(f, gast.Name) or target is None:
            return []
        if isinstance(target, types.MethodType):
            func, bound = target.__func__, [target.__self__]
        elif isinstance(target, functools.partial):
            func, bound = target.func, list(target.args) + list(target.keywords.values())
        else:
            return []
        bound = [b for b in bound if not isinstance(b, (types.ModuleType, type, int, float, complex, str, bytes,
                                                         bool, types.FunctionType)) and b is not None]
        if not bound or (isinstance(func, types.FunctionType) and _library(module_name(func))):
            return []
        from .callee_effects import changes_arguments
        try:
            if not changes_arguments(func):
                return []
        except Exception:
            pass
        for b in bound:
            self.objects[id(b)] = b
            self.names.setdefault(f"#{id(b)}", f"the object {f.id} is bound to")
        return bound

    def replayed_call(self, n: gast.Call, receiver: bool) -> bool:
        """Is the call ``n`` one a recomputation replays rather than runs (a call of the user's that is
        not differentiated: its arguments constants or outside names holding no traced value;
        ``receiver``: a method's object may hold some, ``critic.eval()``, rt.effect)?"""
        if any(isinstance(a, gast.Starred) for a in n.args):
            return False
        operands = list(n.args) + [k.value for k in n.keywords]
        f = n.func
        if isinstance(f, gast.Attribute) and not self.module(f.value):
            if not receiver:
                operands.append(f.value)
            elif self.outside.key(f.value) is None:
                return False
        elif not isinstance(f, (gast.Name, gast.Attribute)):
            return False
        for a in operands:
            if isinstance(a, gast.Constant):
                continue
            key = self.outside.key(a)
            if key is None or (key[0] in self.outside.params and not self.constant_argument(key[0], a)):
                return False
        return True

    def call_reads(self, part, bindings: bool) -> List[Tuple[str, str]]:
        """The outside parts the calls in ``part`` that a recomputation runs again read: the object a
        method is called on (``n.forward(x)``, a classmethod's class), a called object (``n(x)``), and
        (``bindings``) the global and closure variables the called functions read (sct/rebinds.py)."""
        out = []
        for n in walk_nodes(part):
            if not isinstance(n, gast.Call) or id(n) in self.effect_calls or \
                    (self.replayed_call(n, False) and self.users_call(n.func)):
                continue                  # (a library's method, CFG.get("s"), runs again: a read)
            f = n.func
            obj = None
            rt = getattr(self, "rt_name", None)
            if isinstance(f, gast.Attribute) and isinstance(f.value, gast.Name) and f.value.id == rt and \
                    rt not in self.outside.params and f.attr == "stop_gradient":
                continue                  # (sct's own: a logged number's, sct/logged_values.py; reads nothing)
            if isinstance(f, gast.Attribute):
                if f.attr not in MUTATING_METHODS and not self.module(f.value):
                    obj = f.value
            elif isinstance(f, gast.Name):
                value = self.resolve(f)
                if not isinstance(value, (types.FunctionType, types.BuiltinFunctionType, types.ModuleType,
                                          types.MethodType, type)) or \
                        (isinstance(value, type) and not _library(module_name(value))):
                    obj = f
            elif isinstance(f, gast.Subscript):
                obj = f                           # NETS[0](x)
            key = self.outside.key(obj) if obj is not None else None
            if key is not None:
                out.append(key)
                if isinstance(obj, (gast.Attribute, gast.Subscript)) or obj.id in self.outside.stored:
                    # the object itself, as a change through the same expression counts it (NETS[0].eval():
                    # changed_by_user_call's static receiver)
                    found, held = self._static_object(obj)
                    if found is not None and not isinstance(found, (types.ModuleType, type, types.FunctionType)):
                        if self.guard is not None and held is not None:
                            self.guard(held)
                        self.names.setdefault(f"#{id(found)}", self._shown(obj))
                        self.objects[id(found)] = found
                        out.append((f"#{id(found)}", _WHOLE))
            if bindings:
                target, held = self._target(f)
                if target is not None:
                    out += self._bindings(target, False, held)
        return out

    def _shown(self, node, depth: int = 0) -> str:
        """``node``'s text for a message: a normalization's temporary (``NETS0_2 = NETS[0]``) as its value."""
        if isinstance(node, gast.Name) and node.id in self.outside.stored and depth < 4:
            value = self._bound_once(node.id)
            if isinstance(value, (gast.Name, gast.Attribute, gast.Subscript)):
                return self._shown(value, depth + 1)
        if isinstance(node, (gast.Attribute, gast.Subscript)) and isinstance(node.value, gast.Name) and \
                node.value.id in self.outside.stored and depth < 4:
            inner = self._shown(node.value, depth + 1)
            text = _text(node)
            return inner + text[len(node.value.id):] if text.startswith(node.value.id) else text
        return _text(node)

    def users_call(self, f) -> bool:
        """Does calling ``f`` run a function of the user's (a function, a method of the user's class)?"""
        target, _ = self._target(f)
        if isinstance(target, types.MethodType):
            target = target.__func__
        return isinstance(target, types.FunctionType) and not _library(module_name(target))

    def _target(self, f):
        """``_callee(f)``, else the function of the class of an argument's object (from its kind) that
        calling ``f`` runs (``n.set(v)``: ``Net.set``; ``n(x)``: ``Net.__call__``), unguarded: the kind
        is the compiled code's key."""
        target, held = self._callee(f)
        if target is not None:
            return target, held
        node, attr = (f.value, f.attr) if isinstance(f, gast.Attribute) else (f, "__call__")
        cls = self.class_of(node) if isinstance(node, (gast.Name, gast.Attribute)) else None
        if cls is None:
            return None, None
        import inspect
        try:
            found = inspect.getattr_static(cls, attr)
        except AttributeError:
            return None, None
        if isinstance(found, (staticmethod, classmethod)):
            found = found.__func__
        return (found, None) if isinstance(found, types.FunctionType) else (None, None)

    def class_parts(self, events) -> List:
        """A change of a class of the user's (``M.set(3.0)`` doing ``cls.scale = v``) changes what its
        instances read (``inst.scale``, ``m.apply(x)``, a helper reading ``inst``): each change of a class
        and each read of an instance of it (or of the class) as the class's part ``("#k<id>", "*")``, the
        read ordered as a call's (was: the class and its instance told apart, a classmethod toggle read
        through an instance recomputed in the final state, red team 48)."""
        def named(key):
            root = key[0]
            if root[:2] in ("#g", "#c", "#k"):
                return None
            if root.startswith("#"):
                obj = self.objects.get(int(root[1:])) if root[1:].isdigit() else None
                if obj is None:
                    name = self.names.get(root)
                    obj = self.resolve(gast.Name(id=name, ctx=gast.Load(), annotation=None, type_comment=None)) \
                        if name and name.isidentifier() else None
                return obj if obj is not None and f"#{id(obj)}" == root else None
            node = gast.Name(id=root, ctx=gast.Load(), annotation=None, type_comment=None)
            if root in self.outside.params:
                return self.class_of(node)
            return self.resolve(node) if root in self.global_roots() else None

        def user_class(cls) -> bool:
            return isinstance(cls, type) and not _library(module_name(cls)) and \
                (cls.__module__ or "").split(".")[0] not in ("collections", "types")
        out = []
        written = set()
        for e in events:
            if e[2] not in ("read", "callread"):
                if e[3][0] in self.outside.params:
                    continue        # (an argument's object: its own fields, not its class's; was: a
                    #                 dataclass's __init__ setting self.W read as a change of the class)
                obj = named(e[3])
                if user_class(obj):
                    written.add(id(obj))
                    self.names[f"#k{id(obj)}"] = obj.__qualname__
                    out.append(e[:3] + ((f"#k{id(obj)}", _WHOLE), e[4]))
        if not written:
            return out
        for e in events:
            if e[2] in ("read", "callread"):
                obj = named(e[3])
                if obj is None or isinstance(obj, (types.FunctionType, types.ModuleType, types.BuiltinFunctionType)):
                    continue
                for cls in (obj if isinstance(obj, type) else type(obj)).__mro__:
                    if id(cls) in written:
                        out.append((e[0], e[1], "callread", (f"#k{id(cls)}", _WHOLE), e[4]))
        return out

    def rebound(self, s, nodes: Optional[List] = None) -> List[Tuple[Tuple[str, str], bool]]:
        """(variable, whether the call is replayed) for each global or closure variable a call in ``s``
        rebinds (``set_scale(3.0)`` doing ``global SCALE; SCALE = v``: sct/rebinds.py)."""
        out = []
        for n in (walk_nodes(s) if nodes is None else nodes):
            if not isinstance(n, gast.Call):
                continue
            target, held = self._target(n.func)
            keys = self._bindings(target, True, held) if target is not None else []
            if keys:
                self.effect_calls.add(id(n))
                replayed = self.replayed_call(n, True)
                out += [(key, replayed) for key in keys]
        return out

    def _bindings(self, target, writes: bool, held=None) -> List[Tuple[str, str]]:
        from .rebinds import binding_keys
        cache = self.__dict__.setdefault("_binding_cache", {})
        entry = cache.get((id(target), writes))
        if entry is None or entry[0] is not target:
            found, holds = binding_keys(target, writes)
            # (a scan that found nothing keeps no guard of its own: the objects' scan of the same call,
            # _scanned, keeps the compiled code while the functions it reaches are the same)
            if found and self.guard is not None and (holds is not None or held is not None):
                self.guard(held if holds is None else holds if held is None else (lambda: held() and holds()))
            entry = cache[(id(target), writes)] = (target, found)
        for key, name in entry[1].items():
            self.names.setdefault(key, name if not key.endswith(".*") else "a global")
        return [(key, _WHOLE) for key in entry[1]]

    def changing_calls(self, s, nodes: Optional[List] = None) -> List[Tuple[Tuple[str, str], bool]]:
        """(part, whether the call's result reads it: None for a call of the user's replayed where code is
        recomputed) for each outside part a library function called in ``s`` changes (``heapq.heappush(H, v)``; ``next(IT)``, ``heapq.heappop(H)`` read it
        too: a recomputation runs them again on the changed object), or a method whose result reads
        the object it changes (``STACK.pop()``: READING_METHODS)."""
        out = []
        for n in (walk_nodes(s) if nodes is None else nodes):
            if isinstance(n, gast.Call) and isinstance(n.func, gast.Attribute) and n.func.attr in READING_METHODS \
                    and not self.module(n.func.value):
                key = self.outside.key(n.func.value)
                if key is not None:
                    out.append((key, True))
            if isinstance(n, gast.Call) and n.args:
                target = self.resolve(n.func)
                kind = CHANGING_FUNCTIONS.get(id(target)) if target is not None else None
                if kind is not None:
                    key = self.outside.key(n.args[0])
                    if key is not None:
                        out.append((key, kind))
            if isinstance(n, gast.Call):
                keys = self.changed_by_user_call(n)
                if keys:
                    self.effect_calls.add(id(n))
                out += [(key, None if self.replayed_call(n, True) else False) for key in keys]
        return out

    def changed_by_user_call(self, n: gast.Call) -> List[Tuple[str, str]]:
        """The outside objects a call of the user's own function or method that is not
        differentiated (its receiver and arguments constants or outside objects: run as plain Python)
        may change in place (``an.step()`` doing ``self.t += 1``; ``record(HIST, v)`` appending).  A
        recomputation replays it (runtime/effects.py: the same objects as the first run's), so these
        objects are as the first run left them there: wrong where the function reads them."""
        from .callee_effects import changes_arguments
        from .global_writes import _library
        f = n.func
        operands = list(n.args) + [k.value for k in n.keywords]
        if isinstance(f, gast.Attribute):
            operands.append(f.value)
            own = self.argument_method_change(f)
            if own is not None:
                return own
        if not operands or any(isinstance(a, gast.Starred) for a in n.args):
            return []
        keys = []
        receiver_key = None
        for a in operands:
            if isinstance(a, gast.Constant):
                continue
            key = self.outside.key(a)
            if key is None or (key[0] in self.outside.params and not self.constant_argument(key[0], a)):
                return []   # a value of this function's (recomputed anew) or an argument (maybe traced: compiled)
            if self.module(a) or (isinstance(a, gast.Attribute) and self.module(a.value)):
                continue    # np, np.sin: not changed
            keys.append(key)
            receiver_key = key if isinstance(f, gast.Attribute) and a is f.value else None
        if not keys:
            return []
        static_receiver = None
        target = self.resolve(f)
        if target is None and isinstance(f, gast.Attribute):
            base = self.resolve(f.value)         # an.step of a global object: its class's function, bound
            if base is None:                     # STATE['an'].step(): the object, read without running code
                base, held = self._static_object(f.value)
                if base is not None and held is not None and self.guard is not None:
                    self.guard(held)
                static_receiver = base
            if base is not None and not isinstance(base, (types.ModuleType, type)):
                import inspect
                try:
                    static = inspect.getattr_static(base, f.attr)
                except AttributeError:
                    static = None
                if isinstance(static, types.FunctionType) and f.attr not in getattr(base, "__dict__", {}):
                    target = types.MethodType(static, base)
                elif isinstance(static, classmethod) and isinstance(static.__func__, types.FunctionType):
                    target = types.MethodType(static.__func__, type(base))     # (k.bump() doing cls.n += 1)
        if not isinstance(target, (types.FunctionType, types.MethodType)) or \
                _library(module_name(target)) or isinstance(getattr(target, "__self__", None),
                                                                          types.ModuleType):
            return []
        try:
            from .runtime.effects import _replayable
            if _replayable(target, (), {}) or not changes_arguments(target):
                return []
        except Exception:
            return []
        if static_receiver is not None and receiver_key is not None:
            # what the method changes is the object itself, not the part of STATE its expression read
            # (the recomputation reads STATE['an'] again and finds the same object)
            keys = [k for k in keys if k is not receiver_key] + [(f"#{id(static_receiver)}", _WHOLE)]
            self.names[f"#{id(static_receiver)}"] = self._shown(f.value)
            self.objects[id(static_receiver)] = static_receiver
        return keys + self.other_names(operands, keys)

    def other_names(self, operands, keys) -> List[Tuple[str, str]]:
        """The global or closure names this function reads that hold the very objects ``operands``
        (outside expressions: ``STATE['k']``, ``cfg.model``) are, found without running code; each
        as a whole part: a call changing ``STATE['k']`` in place changes what ``k.n`` reads (was: the
        parts told apart by their expressions, ``("STATE", items)`` and ``("k", "n")``, so a
        recomputation for a second derivative read ``k.n`` as the first run's call left it: 4x
        Python's value, red team nb dec 5).  Guarded: the compiled code is kept while each operand
        still reads the same object."""
        found: List[Tuple[str, str]] = []
        names = [n for n in self.global_roots() if n not in {k[0] for k in keys}]
        if not names:
            return found
        for a in operands:
            obj, held = self._static_object(a)
            if obj is None or isinstance(obj, (types.ModuleType, type, types.FunctionType)) or \
                    isinstance(obj, (int, float, complex, str, bytes, bool)):
                continue
            for name in names:
                value = self.resolve(gast.Name(id=name, ctx=gast.Load(), annotation=None, type_comment=None))
                if value is obj and (name, _WHOLE) not in found:
                    found.append((name, _WHOLE))
                    if self.guard is not None and held is not None:
                        self.guard(held)
        return found

    def _bound_once(self, name: str):
        """The expression a local of this function is assigned once (normalization's temporaries:
        ``STATE_item = STATE['k']``), or None."""
        made = getattr(self, "_assigned", None)
        if made is None:
            made = {}
            for n in walk_nodes(self.fdef):
                if isinstance(n, (gast.Assign, gast.AugAssign, gast.AnnAssign, gast.For, gast.With,
                                  gast.NamedExpr)):
                    targets = n.targets if isinstance(n, gast.Assign) else \
                        [n.target] if not isinstance(n, gast.With) else [i.optional_vars for i in n.items]
                    for t in targets:
                        for e in walk_nodes(t) if t is not None else ():
                            if isinstance(e, gast.Name):
                                made.setdefault(e.id, []).append(
                                    n.value if isinstance(n, gast.Assign) and t is e else None)
            self._assigned = made
        values = made.get(name, ())
        return values[0] if len(values) == 1 else None

    def _static_object(self, node, depth: int = 0):
        """``(the object an outside expression of names, attributes and constant items refers to,
        held)``, read without running the user's code (an instance's own attribute or its class's by
        ``inspect.getattr_static``; an item of a dict, list or tuple); ``(None, None)`` otherwise.
        ``held()``: whether each step still gives the same object."""
        import inspect
        steps = []
        while isinstance(node, (gast.Attribute, gast.Subscript)):
            steps.append(node)
            node = node.value
        if not isinstance(node, gast.Name):
            return None, None
        obj = self.resolve(node)
        first_held = None
        if obj is None and node.id in self.outside.stored and depth < 4:
            value = self._bound_once(node.id)
            if isinstance(value, (gast.Name, gast.Attribute, gast.Subscript)):
                obj, first_held = self._static_object(value, depth + 1)
        if obj is None:
            return None, None
        reads = []
        for step in reversed(steps):
            if isinstance(step, gast.Attribute):
                try:
                    static = inspect.getattr_static(obj, step.attr)
                except Exception:
                    return None, None
                if type(static) in (property, staticmethod, classmethod, types.GetSetDescriptorType,
                                    types.MemberDescriptorType) or isinstance(static, types.FunctionType):
                    return None, None
                reads.append((obj, "attr", step.attr, static))
                obj = static
            else:
                if type(obj) not in (dict, list, tuple) or not isinstance(step.slice, gast.Constant):
                    return None, None
                try:
                    value = obj[step.slice.value]
                except Exception:
                    return None, None
                reads.append((obj, "item", step.slice.value, value))
                obj = value

        def held() -> bool:
            if first_held is not None and not first_held():
                return False
            for base, how, what, value in reads:
                try:
                    now = inspect.getattr_static(base, what) if how == "attr" else base[what]
                except Exception:
                    return False
                if now is not value:
                    return False
            return True
        return obj, (held if reads or first_held is not None else None)

    def implicit_changes(self, s, part, nodes: Optional[List] = None) -> List[Tuple[str, str]]:
        """The outside parts that code of the user's which Python runs implicitly in ``part`` (of the
        statement ``s``) changes: a property's getter (``o.lr`` doing ``self.t += 1``), ``o[k]``'s
        ``__getitem__``, ``len(o)``'s ``__len__``, a test's ``__bool__`` (or ``__len__``), ``v in o``'s
        ``__contains__``, a loop's ``__iter__``/``__next__``.  A recomputation runs them again on the
        object the first run changed (was: a second ``dlgradient`` through ``c = o.lr`` used the
        value of the property's second run: 0.0675 for Python's 0.135)."""
        out = []
        if nodes is None:
            nodes = walk_nodes_list(part)
        called = {id(n.func) for n in nodes if isinstance(n, gast.Call)}
        tests = []
        if isinstance(s, (gast.If, gast.While)) and part is s.test:
            tests.append(s.test)
        for n in nodes:
            if isinstance(n, gast.IfExp):
                tests.append(n.test)
            elif isinstance(n, gast.BoolOp):
                tests.extend(n.values)
            elif isinstance(n, gast.UnaryOp) and isinstance(n.op, gast.Not):
                tests.append(n.operand)
            elif isinstance(n, gast.Attribute) and isinstance(n.ctx, gast.Load) and id(n) not in called:
                cls = self.class_of(n.value)
                if cls is not None:
                    import inspect
                    try:
                        static = inspect.getattr_static(cls, n.attr)
                    except AttributeError:
                        static = None
                    if isinstance(static, property) and static.fget is not None:
                        self._implicit(out, n.value, cls, static.fget, f"reading {_text(n)} runs the property "
                                       f"{cls.__qualname__}.{n.attr}, which changes it")
            elif isinstance(n, gast.Subscript) and isinstance(n.ctx, gast.Load):
                self._dunder(out, n.value, ("__getitem__",), f"{_text(n)} runs {{}}, which changes it")
            elif isinstance(n, gast.Call) and isinstance(n.func, gast.Name) and n.args:
                target = self.resolve(n.func)
                import builtins
                if target is builtins.len:
                    self._dunder(out, n.args[0], ("__len__",), f"len() runs {{}}, which changes it")
                elif target is builtins.bool:
                    tests.append(n.args[0])
                elif target in (builtins.list, builtins.tuple, builtins.sorted, builtins.sum, builtins.min,
                                builtins.max, builtins.iter, builtins.enumerate, builtins.zip, builtins.set,
                                builtins.any, builtins.all, builtins.reversed, builtins.map, builtins.filter):
                    for a in n.args:
                        self._dunder(out, a, ("__iter__", "__next__"), f"iterating it runs {{}}, which changes it")
            elif isinstance(n, gast.Compare):
                for op, right in zip(n.ops, n.comparators):
                    if isinstance(op, (gast.In, gast.NotIn)):
                        self._dunder(out, right, ("__contains__", "__iter__", "__next__"),
                                     f"`in` runs {{}}, which changes it")
            elif isinstance(n, gast.comprehension):
                self._dunder(out, n.iter, ("__iter__", "__next__"), f"iterating it runs {{}}, which changes it")
        if isinstance(s, gast.For) and part is s.iter:
            self._dunder(out, s.iter, ("__iter__", "__next__"), f"the loop runs {{}}, which changes it")
        for t in tests:
            self._dunder(out, t, ("__bool__", "__len__"), f"testing it runs {{}}, which changes it")
        return out

    def _dunder(self, out, operand, names, note) -> None:
        cls = self.class_of(operand)
        if cls is None:
            return
        for name in names:
            for klass in cls.__mro__:
                f = vars(klass).get(name)
                if f is not None:
                    if isinstance(f, types.FunctionType):
                        if self._implicit(out, operand, cls, f, note.format(f"{klass.__qualname__}.{name}")):
                            return
                    break

    def _implicit(self, out, operand, cls, fn, note) -> bool:
        """Add ``operand``'s outside part where ``fn`` (code of ``cls`` Python runs on it) may change it."""
        from .callee_effects import changes_arguments
        from .global_writes import _library
        if _library(module_name(fn)) or _library(module_name(cls)):
            return False
        key = self.outside.key(operand) if isinstance(operand, (gast.Name, gast.Attribute, gast.Subscript)) else None
        if key is None:
            return False
        try:
            changes = changes_arguments(fn)
        except Exception:
            changes = True
        if not changes:
            return False
        out.append(key)
        self.notes.setdefault(key, note)
        return True

    def class_of(self, node):
        """The class of the object ``node`` (a name or attribute chain) is, where known when compiling
        (a global's, a closure value's, or from an argument's kind); None otherwise or for sct's,
        numpy's and the builtins' own types."""
        value = self.resolve(node) if isinstance(node, (gast.Name, gast.Attribute)) else None
        cls = None
        if value is not None:
            if isinstance(value, (types.ModuleType, type, types.FunctionType, types.BuiltinFunctionType)):
                return None
            cls = type(value)
        else:
            chain = []
            e = node
            while isinstance(e, gast.Attribute):
                chain.append(e.attr)
                e = e.value
            if not isinstance(e, gast.Name):
                return None
            kind = self.kinds.get(e.id)
            for attr in reversed(chain):
                if not (isinstance(kind, tuple) and len(kind) == 3 and kind[0] == "obj"):
                    return None
                kind = dict(kind[2]).get(attr) if isinstance(kind[2], tuple) else None
            if isinstance(kind, tuple) and len(kind) >= 2 and kind[0] == "obj" and isinstance(kind[1], type):
                cls = kind[1]
        if cls is None or module_top(cls) in ("builtins", "numpy", "sct", "collections"):
            return None
        return cls

    def fields_of(self, node) -> Optional[frozenset]:
        """The names of the own attributes of the argument object ``node`` names (from its kind; None where that
        is not known)."""
        kind = self.kinds.get(node.id) if isinstance(node, gast.Name) else None
        if isinstance(kind, tuple) and len(kind) == 3 and kind[0] == "obj" and isinstance(kind[2], tuple):
            return frozenset(dict(kind[2]))
        return None

    def constant_argument(self, name: str, operand=None) -> bool:
        """Is the argument ``name`` known (from its kind) to hold no value to differentiate (a plain
        array, a list, dict or object of constants)?  A call given it is run as plain Python and
        replayed where code is recomputed, like one given a global (was: not followed, so
        ``c = np.sum(buf)`` before ``fill(buf)`` of a ``buf`` given to dlfeval read the filled buffer
        in the recomputation: a gradient 4x Python's)."""
        kind = self.kinds.get(name)
        if isinstance(kind, tuple) and bool(kind) and not _traced_kind(kind):
            return True
        part = self.kind_at(operand) if operand is not None else None
        return isinstance(part, tuple) and bool(part) and not _traced_kind(part)

    def kind_at(self, node):
        """The kind of the part ``node`` (``net.log``, ``p["log"]``, ``p[0]``) of an argument, from the
        argument's kind, or None."""
        if isinstance(node, gast.Name):
            return self.kinds.get(node.id)
        if isinstance(node, gast.Attribute):
            kind = self.kind_at(node.value)
            if isinstance(kind, tuple) and len(kind) == 3 and kind[0] == "obj" and isinstance(kind[2], tuple):
                return dict(p for p in kind[2] if isinstance(p, tuple) and len(p) == 2).get(node.attr)
            return None
        if isinstance(node, gast.Subscript) and isinstance(node.slice, gast.Constant):
            kind = self.kind_at(node.value)
            index = node.slice.value
            if isinstance(kind, tuple) and len(kind) == 3 and kind[0] == "map" and isinstance(kind[2], tuple):
                return dict(p for p in kind[2] if isinstance(p, tuple) and len(p) == 2).get(index)
            if isinstance(kind, tuple) and len(kind) == 3 and kind[0] == "seq" and isinstance(index, int) and \
                    -len(kind[2]) <= index < len(kind[2]):
                return kind[2][index]
        return None

    def argument_method_change(self, f: gast.Attribute) -> Optional[List[Tuple[str, str]]]:
        """``o.step()`` of an argument ``o`` of a user class (known from its kind) whose method may
        change ``o``: ``[o's part]`` (a recomputation replays the call, or runs it again, on ``o`` as
        the first run left it: wrong where the function reads ``o``; was: ``c = o.n + 1`` before
        ``o.step()`` read 1 where Python's is 0, a gradient twice Python's); None otherwise."""
        from .global_writes import _library
        key = self.outside.key(f.value)
        if key is None or key[0] not in self.outside.params:
            return None
        cls = self.class_of(f.value)
        if cls is None:
            return None
        import inspect
        try:
            static = inspect.getattr_static(cls, f.attr)
        except AttributeError:
            return None
        if not isinstance(static, types.FunctionType) or _library(module_name(static)):
            return None
        if not _writes_self(static):
            from .callee_effects import changes_arguments, method_changes_arguments
            fields = self.fields_of(f.value)
            try:            # (a write through a local: ``for l in self.layers: l.training = v``; was: not a
                changes = changes_arguments(static) if fields is None else \
                    method_changes_arguments(static, cls, fields)   # change, red team 49)
            except Exception:
                changes = True
            if not changes:
                return None
        self.notes.setdefault(key, f"{cls.__qualname__}.{f.attr}() changes it")
        return [key]

    def module(self, node) -> bool:
        """Is ``node`` a module (``np`` of ``np.sort(x)``, ``np.append(x, v)``: functions, not methods
        that change their receiver)?"""
        return isinstance(node, (gast.Name, gast.Attribute)) and isinstance(self.resolve(node), types.ModuleType)

    def helper_reads(self, node) -> List[Tuple[str, str]]:
        """The objects that the user's functions called in ``node`` read through their globals
        and closure values (a few levels down), as ``("#id", "*")``."""
        out = []
        for n in walk_nodes(node):
            if isinstance(n, gast.Call) and not all(isinstance(a, gast.Constant) for a in
                                                    list(n.args) + [k.value for k in n.keywords]):
                # (a call of constants only is not differentiated: run once, replayed, it reads the
                # state as the first run did)
                target, held = self._callee(n.func)
                if target is not None:
                    for oid, name in self._scanned(target, False, held).items():
                        self.names.setdefault(f"#{oid}", name)
                        out.append((f"#{oid}", _WHOLE))
        return out

    def method_reads(self, node) -> List[Tuple[str, str]]:
        """The objects that a method of an argument's class called in ``node`` and run again by a
        recomputation (``m(x)``: ``Layer.__call__``, from the argument's kind) reads through its globals
        and closure values (``CFG.training``), as ``("#id", "*")`` (was: not read, so ``CFG.set(False);
        y = m(x); CFG.set(True)`` recomputed y in the final mode, red team 49)."""
        out = []
        for n in walk_nodes(node):
            if not isinstance(n, gast.Call) or id(n) in self.effect_calls or \
                    (self.replayed_call(n, False) and self.users_call(n.func)) or self._callee(n.func)[0] is not None:
                continue
            target, _ = self._target(n.func)
            if target is not None:
                for oid, name in self._scanned(target, False).items():
                    self.names.setdefault(f"#{oid}", name)
                    out.append((f"#{oid}", _WHOLE))
        return out

    def _callee(self, f):
        """``(the function a call of f runs, held)``: what ``self.resolve`` finds, else a method of an
        object held by a global or closure value (``k.tick()``, ``cfg.log.write(v)``: the resolver
        follows modules and classes only), read as Python would (the instance's own attribute, else
        its class's, by ``inspect.getattr_static``: no code of the object runs); ``held()``: whether
        each attribute read that way still holds the same object (None: nothing read that way).
        (Was: not followed, so a global object's method writing into a global the function read
        before the call left the recomputation for a second derivative unrefused: 4x Python's value,
        red team nb dec 5.)"""
        target = self.resolve(f)
        if target is not None or not isinstance(f, gast.Attribute):
            return target, None
        import inspect
        chain = []
        node = f
        while isinstance(node, gast.Attribute):
            chain.append(node.attr)
            node = node.value
        base = self.resolve(node) if isinstance(node, gast.Name) else None
        if base is None:
            return None, None
        reads = []
        for attr in reversed(chain):
            if isinstance(base, (types.ModuleType, type)):
                value = getattr(base, attr, None)          # (the resolver's own reads: guarded there)
                static = value
            else:
                try:
                    static = inspect.getattr_static(base, attr, None)
                except Exception:
                    return None, None
                value = static.__func__ if isinstance(static, (staticmethod, classmethod)) else static
                if isinstance(static, types.FunctionType):
                    value = types.MethodType(static, base)
                elif type(static) in (property, types.GetSetDescriptorType, types.MemberDescriptorType):
                    return None, None               # computed when read: not followed
            reads.append((base, attr, static))
            base = value
            if base is None:
                return None, None
        if not isinstance(base, (types.FunctionType, types.MethodType)):
            return None, None

        def held() -> bool:
            for obj, attr, static in reads:
                try:
                    now = getattr(obj, attr, None) if isinstance(obj, (types.ModuleType, type)) else \
                        inspect.getattr_static(obj, attr, None)
                except Exception:
                    return False
                if now is not static:
                    return False
            return True
        return base, held

    def _scanned(self, target, writes: bool, held=None) -> Dict[int, str]:
        """_written_objects (``writes``) or _read_objects of ``target``, guarded: the answer depends on
        the code of ``target`` and of the helpers it calls, which a later notebook cell may redefine
        (a helper of a global object's method: ``k.tick()`` calling ``helper()``) or IPython's
        autoreload may replace in place (``helper.__code__``); the code compiled from this answer is
        kept only while what the scan read holds (was: a helper redefined to write into a global
        read before the call left it unguarded, and a recomputation for a second derivative ran it
        again: 4x Python's value, red team nb dec 5)."""
        found, holds = written_objects_read(target, writes, self.objects)
        if self.guard is not None and (holds is not None or held is not None):
            self.guard(held if holds is None else holds if held is None else (lambda: held() and holds()))
        return found

    def global_roots(self) -> Set[str]:
        """The names this function reads that are not its own (globals, closure values)."""
        if self._global_roots is None:
            self._global_roots = {n.id for n in walk_nodes(self.fdef) if isinstance(n, gast.Name) and
                                  isinstance(n.ctx, gast.Load) and n.id not in self.outside.stored}
        return self._global_roots

    def conflict(self) -> Optional[Tuple[int, str]]:
        events = []                              # (index, loops, kind, key, statement)
        for i, (s, loops) in enumerate(_statements(self.fdef.body)):
            nodes = None            # a simple statement's walk, read three times
            for part in _header(s):
                if part is s:
                    nodes = walk_nodes_list(s)
                for key in self.reads(part, nodes if part is s else None):
                    events.append((i, loops, "read", key, s))
                for key in self.implicit_changes(s, part, nodes if part is s else None):
                    events.append((i, loops, "rmw", key, s))
            if isinstance(s, (gast.For, gast.While, gast.If)):
                continue
            for key, rmw in self.direct_writes(s):
                events.append((i, loops, "rmw" if rmw else "write", key, s))
            for key, replayed in self.replayed_writes(s, nodes):
                events.append((i, loops, "effect" if replayed else "replayed", key, s))
            for key, reads_it in self.changing_calls(s, nodes):
                events.append((i, loops, "rmw" if reads_it else "effect" if reads_it is None else "replayed", key, s))
            for key, replayed in self.rebound(s, nodes):
                events.append((i, loops, "effect" if replayed else "replayed", key, s))
        # (whether a global's or a closure's variable is changed: kept as the events grow, not asked of all
        # of them at each statement: that was quadratic, 0.9 s of a 1,000-line function's compilation)
        variables = any(e[3][0].startswith(("#g", "#c")) for e in events)
        for i, (s, loops) in enumerate(_statements(self.fdef.body)):
            for part in _header(s):
                for key in self.call_reads(part, variables):
                    events.append((i, loops, "callread", key, s))
                    variables = variables or key[0].startswith(("#g", "#c"))
        # a global's object written here and read by a helper this function calls (``a = scaled(x)``
        # reading Cfg.scale, then ``Cfg.scale = 5.0``): the written object by its identity
        for e in list(events):
            root = e[3][0]
            if e[2] != "read" and not root.startswith("#") and (root in self.global_roots() or e[2] == "callread"):
                obj = self.resolve(gast.Name(id=root, ctx=gast.Load(), annotation=None, type_comment=None))
                if obj is not None and not isinstance(obj, (types.FunctionType, types.ModuleType,
                                                            types.BuiltinFunctionType)):
                    self.names[f"#{id(obj)}"] = root
                    self.objects[id(obj)] = obj
                    events.append(e[:3] + ((f"#{id(obj)}", _WHOLE), e[4]))
        if any(e[3][0].startswith("#") for e in events):
            for i, (s, loops) in enumerate(_statements(self.fdef.body)):
                for part in _header(s):
                    for key in self.helper_reads(part):
                        events.append((i, loops, "read", key, s))
                    for key in self.method_reads(part):
                        events.append((i, loops, "callread", key, s))
        events += self.class_parts(events)
        reads = [e for e in events if e[2] == "read"]
        calls = [e for e in events if e[2] == "callread"]
        candidates: List = []
        for i, loops, kind, key, s in events:
            if kind in ("read", "callread"):
                continue

            def before(r):                # read before the write (or in its loop)
                return r[0] < i or (r[0] == i and r[4] is not s) or bool(set(r[1]) & set(loops))
            # (a call reading the object, a helper reading the variable: ``n(x)``, ``layer(x)``, was not a
            # read, so ``n.set(False); y = n(x); n.set(True)`` before the site recomputed y in the
            # final mode: the first gradient too 4/9 of Python's, red team 48.  A replayed call of the
            # user's leaves the object as the first run left it at the site: wrong for the calls
            # recomputed before it, not after)
            by_call = [r for r in calls if _overlap(key, r[3]) and (before(r) if kind in ("write", "effect")
                                                                   else r[4] is not s)]
            if kind == "rmw":
                hit = True
            elif kind == "write":         # runs again: wrong where read before it (or in its loop)
                hit = bool(by_call) or any(_overlap(key, r[3]) and before(r) for r in reads)
            else:                         # replayed (or run again): wrong where read anywhere (a call
                # reading it, where a call of the user's replays it: before it)
                hit = bool(by_call) or any(_overlap(key, r[3]) and not (r[0] == i and _only_receiver(r, s))
                                           for r in reads)
            if not hit and kind in ("effect", "replayed"):
                # another outside value read where the recomputation reads the state the call leaves
                # (``trainer.set_training(False); y = model(x)`` with ``trainer.model is model``): checked
                # at run time, alias_guard (was: told apart by their names, red team 49)
                candidates.append((key, s, [r for r in calls if r[3][0] != key[0] and (
                    before(r) if kind == "effect" else r[4] is not s)] + [r for r in reads if r[3][0] != key[0] and r[4] is not s and not _binding(r[4]) and
                      not self.own_check(r[4])]))
            if hit:
                root = self.names.get(key[0], key[0])
                reader = f" (the call on line {self.show_line(by_call[0][4].lineno)} reads it)" \
                    if by_call and getattr(by_call[0][4], "lineno", None) else ""
                what = root if key[1] in (_WHOLE, _ITEMS) else f"{root}.{key[1]}"
                line = getattr(s, "lineno", None)
                note = self.notes.get(key)
                if note is not None:
                    what = f"{what} ({note})"
                read = _property_read(s, self.fdef, self.resolve)
                changes = f"{self.fname}() changes {what}" if read is None else \
                    f"reading {read} in {self.fname}() runs its getter, which changes {read.rsplit('.', 1)[0]}"
                what = what if read is None else read.rsplit(".", 1)[0]
                return line, (
                    f"{changes} (line {self.show_line(line)}), an object from outside it (a global, a closure value, "
                    f"an argument or self), and reads it{reader}; a later dlgradient differentiates a gradient "
                    f"computed from this code again, so sct recomputes it, on {what} as the first run left "
                    f"it, and would not compute Python's values. Keep the state out of the differentiated "
                    f"code (pass it in as an argument and return its new value), or change it after the "
                    f"gradients. (Refused when the later dlgradient ran: the changes this call made before it "
                    f"stay made.)")
        return self.alias_pairs(candidates)

    def alias_pairs(self, candidates) -> Optional[Tuple[int, str]]:
        """``self.aliases``: ``(changed, read, line, message)`` for each outside object a replayed call
        changes and each other outside value read where the recomputation would see the change
        (``("param", name)`` or ``("object", value)``), checked at run time (rt.recompute_alias_guard);
        (line, message) where one of them is not known (refused)."""
        self.aliases = []
        done = set()
        for key, s, found in candidates:
            changed = self.root_value(key[0])
            for r in found:
                read = self.root_value(r[3][0])
                if changed == "skip" or read == "skip" or (key[0], r[3][0]) in done or \
                        (changed is not None and read is not None and changed[0] == read[0] == "object" and
                         changed[1] is read[1]):        # (one object: its keys' rule)
                    continue
                done.add((key[0], r[3][0]))
                line, at = getattr(s, "lineno", None), getattr(r[4], "lineno", None)
                what, other = (self.names.get(k, k) + (" (an object the code it calls names so)" if k[1:].isdigit() and
                                                          not self.names.get(k, "").startswith("the ") else "") for k in (key[0], r[3][0]))
                message = (
                    f"{self.fname}() changes {what} (line {self.show_line(line)}) by a call sct replays, and "
                    f"{other}, another value from outside it that reaches an object {what} reaches, is read "
                    f"(the call on line {self.show_line(at)} reads it); a later dlgradient differentiates a "
                    f"gradient computed from this code again, so sct recomputes it, on that object as the "
                    f"first run left it, and would not compute Python's values. Pass objects that hold "
                    f"nothing in common, keep the state out of the differentiated code, or change it "
                    f"after the gradients")
                if changed is None or read is None:
                    return line, message.replace(" that reaches an object", " that may reach an object")
                self.aliases.append((changed, read, line, message))
        return None

    def own_check(self, s) -> bool:
        """``rt.unformatted_outside(...)``: a check of sct's own (normalization's) on a value, not a read of
        its state."""
        rt = getattr(self, "rt_name", None)
        return rt is not None and isinstance(s, gast.Expr) and isinstance(s.value, gast.Call) and \
            isinstance(s.value.func, gast.Attribute) and isinstance(s.value.func.value, gast.Name) and \
            s.value.func.value.id == rt and rt not in self.outside.params

    def root_value(self, root: str):
        """What the outside part ``root`` is when the function runs: ``("param", name)``, ``("object",
        value)``, "skip" (a variable or a class: their own keys; a value that holds nothing that
        changes), or None (not known)."""
        if root in self.outside.params:       # (one the code binds again: not known)
            bound = self.__dict__.get("_bound")
            if bound is None:
                bound = self._bound = {n.id for st in self.fdef.body for n in walk_nodes(st)
                                       if isinstance(n, gast.Name) and not isinstance(n.ctx, gast.Load)}
            return ("param", root) if root not in bound else None
        if root[:2] in ("#g", "#c", "#k"):
            return "skip"
        if root.startswith("#"):
            obj = self.objects.get(int(root[1:])) if root[1:].isdigit() else None
            if obj is None:
                name = self.names.get(root)
                obj = self.resolve(gast.Name(id=name, ctx=gast.Load(), annotation=None, type_comment=None)) \
                    if name and name.isidentifier() else None
            if obj is None or f"#{id(obj)}" != root:
                return None
        else:
            obj = self.resolve(gast.Name(id=root, ctx=gast.Load(), annotation=None, type_comment=None))
            if obj is None:         # (no global of that name: sct's own, rt of code it made)
                return "skip"
        if isinstance(obj, (types.ModuleType, type, types.BuiltinFunctionType, int, float, complex, str, bytes,
                            bool)) or (isinstance(obj, types.FunctionType) and not obj.__closure__ and
                                       not obj.__defaults__ and not obj.__kwdefaults__):
            return "skip"
        return ("object", obj)


def _traced_kind(kind) -> bool:
    """Does a kind (sct.kinds) hold a value to differentiate, at any level?"""
    if not isinstance(kind, tuple):
        return False
    if kind[:1] == ("dl",):
        return True
    return any(_traced_kind(part) for part in kind if isinstance(part, tuple))


def _writes_self(fn) -> bool:
    """Does the method ``fn``'s own code write into its object (``self.t += 1``, ``self.a = v``,
    ``self.log.append(v)``, ``self.w[0] = v``)?"""
    tree = _source_tree(fn)
    if tree is None:
        return False
    fdef = next((n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))), None)
    if fdef is None or not fdef.args.args:
        return False
    me = fdef.args.args[0].arg
    for node in ast.walk(fdef):
        targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else \
            [node.target] if isinstance(node, (ast.AugAssign, ast.AnnAssign)) else []
        for t in targets:
            for e in (t.elts if isinstance(t, (ast.Tuple, ast.List)) else [t]):
                if isinstance(e, (ast.Attribute, ast.Subscript)) and _root_name(e) == me:
                    return True
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                node.func.attr in MUTATING_METHODS and isinstance(node.func.value, (ast.Attribute, ast.Subscript)) \
                and _root_name(node.func.value) == me:
            return True
    return False


def _binding(s) -> bool:
    """``t = STATE['k']`` (a name bound to an outside object: its reference, not its state, is read; the
    state read through ``t`` is each read's own, by ``t``'s origin)."""
    if not (isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], gast.Name)):
        return False
    e = s.value
    while isinstance(e, (gast.Attribute, gast.Subscript)):
        if isinstance(e, gast.Subscript) and not isinstance(e.slice, (gast.Constant, gast.Name)):
            return False
        e = e.value
    return isinstance(e, gast.Name)


def _text(node) -> str:
    try:
        import astunparse
        return astunparse.unparse(gast.gast_to_ast(node)).strip()
    except Exception:
        return "it"


def _only_receiver(read, s) -> bool:
    """The read is the receiver of the changing call itself (``LOG.append``'s ``LOG``)."""
    return read[4] is s and read[3][1] == _WHOLE


def _written_objects(target) -> Dict[int, str]:
    """The objects (id -> a name the code uses) that calling ``target`` (a function of the user's,
    a class, a method) writes into through the globals and closure values of its code, and of the
    user functions those name (a few levels down): ``G.a = v``, ``G[i] = v``, ``del G[i]``,
    ``G.append(v)``."""
    return _scan(target, True)


def _read_objects(target) -> Dict[int, str]:
    """The objects (id -> name) that calling ``target`` reads through the globals and closure
    values of its code (and of the user functions those name, a few levels down), functions and
    modules aside."""
    return _scan(target, False)


def written_objects_read(target, writes: bool = True, objects: Optional[Dict[int, object]] = None) \
        -> Tuple[Dict[int, str], Optional[Callable[[], bool]]]:
    """:func:`_written_objects` (``writes``; else :func:`_read_objects`) of ``target``, and ``holds()``: whether what the scan read still
    holds -- each function's code (a ``__code__`` replaced in place, IPython's autoreload), the
    functions a class or value stands for, and every global or closure value read by name (a helper
    the callback calls redefined in a later notebook cell).  An answer kept for ``target`` is reused
    only while it holds (was: kept per function object, so a callback whose helper was redefined to
    write into a global was still taken to write nothing, and a recomputation ran it again: a second
    derivative 4x Python's, red team nb dec 5).  ``holds`` is None where the scan read nothing that
    can change (library functions only)."""
    reads: list = []
    found = _scan(target, writes, reads)
    if objects is not None:             # (id -> the object, for what is read as its class's part)
        objects.update((id(entry[3]), entry[3]) for entry in reads if entry[0] == "name" and id(entry[3]) in found)

    def holds() -> bool:
        for entry in reads:
            if entry[0] == "functions":
                _, value, funcs = entry
                now = list(_functions_of(value))
                if len(now) != len(funcs) or any(f is not g or f.__code__ is not c
                                                 for f, (g, c) in zip(now, funcs)):
                    return False
            else:             # (after its function's entry: the code it was read for still runs)
                _, scope, name, value = entry
                if scope._value(name) is not value:
                    return False
        return True
    return found, (holds if reads else None)


def _scan(target, writes: bool, reads: Optional[list] = None) -> Dict[int, str]:
    out: Dict[int, str] = {}
    seen: Set[int] = set()
    todo = [(target, 1)]
    while todo:
        value, depth = todo.pop()
        funcs = list(_functions_of(value))
        if reads is not None and not all(_library(module_name(f)) or _library_code(f) for f in funcs):
            reads.append(("functions", value, [(f, f.__code__) for f in funcs]))
        for func in funcs:
            if id(func.__code__) in seen or _library(module_name(func)) or _library_code(func):
                continue
            seen.add(id(func.__code__))
            tree = _source_tree(func)
            if tree is None:
                continue
            scope = _Scope(func, reads)
            for node in ast.walk(tree):
                if writes:
                    names = _written_roots(node) + _changed_by_call(node, scope)
                else:
                    names = [node.id] if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) else []
                for root in names:
                    obj = scope.value(root)
                    if obj is not None and (writes or not isinstance(
                            obj, (types.FunctionType, types.ModuleType, types.BuiltinFunctionType))):
                        out[id(obj)] = root
                if depth < _DEPTH and isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                    callee = scope.value(node.func.id)
                    if callee is not None:
                        todo.append((callee, depth + 1))
    return out


class _Scope:
    """The globals and closure values a function's code reads by name."""

    def __init__(self, func, reads: Optional[list] = None):
        self.func = func
        code = func.__code__
        self.local = set(code.co_varnames) | set(code.co_cellvars)
        self.cells = dict(zip(code.co_freevars, func.__closure__ or ()))
        self.reads = reads           # (written_objects_read) the names read, with what they held
        self.read: Set[str] = set()

    def value(self, name: str):
        found = self._value(name)
        if self.reads is not None and name not in self.read:
            self.read.add(name)
            self.reads.append(("name", self, name, found))
        return found

    def _value(self, name: str):
        if name in self.local:
            return None
        if name in self.cells:
            try:
                return self.cells[name].cell_contents
            except ValueError:
                return None
        return self.func.__globals__.get(name)


def _source_tree(func):
    import inspect
    import textwrap
    try:
        return ast.parse(textwrap.dedent(inspect.getsource(getattr(func, "__code__", func))))
    except (OSError, TypeError, SyntaxError, IndentationError):
        return None


def _root_name(e) -> Optional[str]:
    """The name an attribute or item chain starts from; through ``type(o)`` to ``o`` (``type(self).count
    += 1`` writes the class every instance reads ``count`` from: was not seen as a write, and a second
    derivative recomputing ``k.bump()`` after ``c = k.count`` read the count bumped twice, red team nb)."""
    while True:
        while isinstance(e, (ast.Attribute, ast.Subscript)):
            e = e.value
        if isinstance(e, ast.Call) and isinstance(e.func, ast.Name) and e.func.id == "type" and \
                len(e.args) == 1 and not e.keywords:
            e = e.args[0]
            continue
        return e.id if isinstance(e, ast.Name) else None


def _changed_by_call(node, scope) -> List[str]:
    """The root name of the first argument of a CHANGING_FUNCTIONS call (``heapq.heappush(H, v)``)."""
    if not (isinstance(node, ast.Call) and node.args):
        return []
    f = node.func
    if isinstance(f, ast.Name):
        target = scope.value(f.id)
        if target is None:
            import builtins
            target = getattr(builtins, f.id, None)
    elif isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name):
        target = getattr(scope.value(f.value.id), f.attr, None)
    else:
        return []
    if id(target) not in CHANGING_FUNCTIONS:
        return []
    root = _root_name(node.args[0])
    return [root] if root is not None else []


def _written_roots(node) -> List[str]:
    targets = []
    if isinstance(node, ast.Assign):
        targets = node.targets
    elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
        targets = [node.target]
    elif isinstance(node, ast.Delete):
        targets = node.targets
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in MUTATING_METHODS:
        root = _root_name(node.func.value)
        return [root] if root is not None else []
    out = []
    for t in targets:
        for n in (t.elts if isinstance(t, (ast.Tuple, ast.List)) else [t]):
            if isinstance(n, (ast.Attribute, ast.Subscript)):
                root = _root_name(n)
                if root is not None:
                    out.append(root)
    return out


def alias_guard(checker: RecomputeWrites, made: Dict[str, object], rt, filename) -> List:
    """``rt.recompute_alias_guard(filename, ((changed, read, line, message), ...))`` for
    ``checker.aliases`` (the values not arguments bound in the generated module as ``made``), or []."""
    from .ir import call, const, expr_stmt, load
    pairs = []
    for changed, read, line, message in getattr(checker, "aliases", ()):
        values = []
        for how, value in (changed, read):
            if how == "param":
                values.append(load(value))
            else:
                name = next((k for k, v in made.items() if v is value and k.startswith("__sct_alias_")), None)
                if name is None:
                    name = f"__sct_alias_{len(made)}"
                    made[name] = value
                values.append(load(name))
        pairs.append(gast.Tuple(elts=values + [const(line), const(message)], ctx=gast.Load()))
    if not pairs:
        return []
    return [expr_stmt(call(rt("recompute_alias_guard"), [const(filename), gast.Tuple(elts=pairs, ctx=gast.Load())]))]


def _property_read(s, fdef, resolve):
    """``cfg['sched'].lr`` where the statement ``s`` is the normalizer's read of a property
    (``cfg_item_lr = __sct_property_3_Sched_lr(cfg_item)``, sct/properties.py), its object spelled as the user wrote
    it where it is a name bound once to an item or field of a name (``cfg_item = cfg['sched']``); else None."""
    value = getattr(s, "value", None)
    if not (isinstance(s, gast.Assign) and isinstance(value, gast.Call) and isinstance(value.func, gast.Name) and
            value.func.id.startswith("__sct_property_") and len(value.args) == 1 and
            isinstance(value.args[0], gast.Name)):
        return None
    name = value.args[0].id
    try:
        prop = getattr(resolve(value.func), "__name__", None)
    except Exception:
        prop = None
    if not isinstance(prop, str):
        return None
    binds = [n.value for n in walk_nodes(fdef) if isinstance(n, gast.Assign) and len(n.targets) == 1 and
             isinstance(n.targets[0], gast.Name) and n.targets[0].id == name]
    shown = name
    if len(binds) == 1 and isinstance(binds[0], (gast.Subscript, gast.Attribute)) and \
            isinstance(binds[0].value, gast.Name):
        b = binds[0]
        shown = f"{b.value.id}.{b.attr}" if isinstance(b, gast.Attribute) else \
            f"{b.value.id}[{b.slice.value!r}]" if isinstance(b.slice, gast.Constant) else name
    return f"{shown}.{prop}"
