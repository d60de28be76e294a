"""A call sct does not read in place that sets fields of an object whose fields the function follows by name
(red team 52 F1): ``y = cell(x0); cell.reset(); y = cell(x1)`` where ``reset`` (another module's method, or one
with a ``try``) sets ``self.h``, left as a call (``rt.effect`` / ``rt.maybe_effect``) because it stores no
traced value (sct.callee_effects._pure's ``self_attributes``).  The function follows ``cell.h`` by its name,
so the adjoint of the read after the call went on into the traced value written before it, as if the call had
not replaced it (a wrong gradient).  Refused where the call may run between a traced write of such a field and
a read of it; a call before the first write (``cell.reset()`` at the start of a forward pass) or after the
last read is exact, and kept.

Red team 52 F14: the same where the read is made by code the object is handed to (another module's
``cell.peek()``, ``vars(cell)["h"]``, ``cell.__dict__["h"]``: were not counted as reads), and where the reset is
made with no call node, by a dunder of the object's class that Python runs (``with cell:``'s ``__enter__``,
``if cell:``'s ``__bool__``, ``len``, ``str``/``print``/f-strings/``format``/``%``, ``in``, ``for``, ``==``,
``hash``...: ``implicit_calls``, ``dunder_fields``; checked by write_checks' ``_implicit_resets``)."""
from __future__ import annotations

import dataclasses
import sysconfig
import types
from typing import Optional

import gast

from .alias_state import EXT, _statements
from .ir import walk_nodes


def fields_set(callee) -> frozenset:
    """The fields ``callee`` (a Python function) sets on its first parameter (``self.h = ...``)."""
    from .parse import function_ast
    try:
        fdef, _, _ = function_ast(callee)
    except Exception:
        return frozenset()
    first = fdef.args.args[0].id if fdef.args.args else None
    if first is None:
        return frozenset()
    return frozenset(t.attr for n in gast.walk(fdef) if isinstance(n, gast.Assign)
                     for t in n.targets if isinstance(t, gast.Attribute) and
                     isinstance(t.value, gast.Name) and t.value.id == first)


def _layout(body, order: dict, loops: dict, enclosing=()) -> None:
    """Each statement's place in the function's text and the loops around it."""
    for st in body:
        order[id(st)], loops[id(st)] = len(order), enclosing
        inner = enclosing + (id(st),) if isinstance(st, (gast.For, gast.While)) else enclosing
        for name in ("body", "orelse"):
            block = getattr(st, name, None)
            if isinstance(block, list):
                _layout(block, order, loops, inner)


def _own_parts(st) -> list:
    """The expressions of ``st`` itself (a compound statement's test or iterable, not its blocks)."""
    if isinstance(st, (gast.If, gast.While)):
        return [st.test]
    if isinstance(st, gast.For):
        return [st.iter]
    if isinstance(st, gast.With):
        return list(st.items)
    return [st]


ANY = None         # fields(): a callee that may set any field (its source unread, or it does more than ``self.f = v``)


def dunder_fields(cls, name: str):
    """The fields ``cls``'s ``name`` (a dunder Python runs for ``if o:``, ``with o:``, ``str(o)``...) may set on
    its object: () where the class has none of its own (object's, a builtin type's), ANY where it is not a Python
    function whose source shows it sets only ``self.f = v`` (and calls only such methods of ``self``: a
    ``__repr__`` calling ``self.extra_repr()``) (red team 52 F14)."""
    fn = getattr(cls, name, None)
    if fn is None or isinstance(fn, (types.WrapperDescriptorType, types.MethodWrapperType, types.BuiltinFunctionType,
                                     types.MethodDescriptorType)) or fn is getattr(object, name, None):
        return frozenset()
    return _method_fields(cls, fn, 0)


def _method_fields(cls, fn, depth: int):
    from .callee_effects import _pure_source
    from .parse import function_ast
    if not isinstance(fn, types.FunctionType):
        return ANY
    code = fn.__code__.co_filename
    if code.startswith(_STDLIB) or code == "<string>" and dataclasses.is_dataclass(cls):
        return frozenset()      # a dataclass's __repr__/__eq__, enum's: Python's own, reading fields only
    try:
        fdef, _, _ = function_ast(fn)
    except Exception:
        return ANY
    first = fdef.args.args[0].id if fdef.args.args else None
    fields, shown = set(fields_set(fn)), set()
    for n in gast.walk(fdef):
        f = getattr(n, "func", None) if isinstance(n, gast.Call) else None
        if isinstance(f, gast.Attribute) and isinstance(f.value, gast.Name) and f.value.id == first and \
                first is not None and isinstance(getattr(cls, f.attr, None), types.FunctionType) and depth < 3:
            inner = _method_fields(cls, getattr(cls, f.attr), depth + 1)   # self.extra_repr()
            if inner is ANY:
                return ANY
            fields |= inner
            shown.add(id(n))
    if not _pure_source(fn, fdef, self_attributes=True, pure_calls=frozenset(shown)):
        return ANY              # setattr(self, ...), self.__dict__[...] = ..., another object's method: anything
    return frozenset(fields)


_STDLIB = sysconfig.get_paths()["stdlib"] + "/"

_TRUTH = ("__bool__", "__len__")
_TEXT = ("__str__", "__repr__", "__format__")
_ITER = ("__iter__", "__next__", "__getitem__", "__len__")
_BUILTINS = {"bool": _TRUTH, "len": ("__len__",), "str": _TEXT, "repr": ("__repr__",), "format": _TEXT,
             "print": _TEXT, "ascii": ("__repr__",), "hash": ("__hash__",), "iter": _ITER, "next": ("__next__",),
             "list": _ITER, "tuple": _ITER, "set": _ITER + ("__hash__",), "sorted": _ITER + ("__lt__",),
             "sum": _ITER + ("__add__", "__radd__"), "min": _ITER + ("__lt__", "__gt__"),
             "max": _ITER + ("__lt__", "__gt__"), "enumerate": _ITER, "zip": _ITER, "any": _ITER, "all": _ITER,
             "reversed": ("__reversed__", "__len__", "__getitem__"), "abs": ("__abs__",),
             "float": ("__float__", "__index__"), "int": ("__int__", "__index__", "__trunc__"),
             "complex": ("__complex__", "__float__", "__index__"), "round": ("__round__",),
             "divmod": ("__divmod__", "__rdivmod__")}
_RT = {"as_sequence": _ITER, "listed": _ITER}
# (``"{}".format(cell)``, ``log.info("%s", cell)``: the text of each argument)
_FORMATTING = ("format", "format_map", "debug", "info", "warning", "warn", "error", "critical", "exception", "log")
_SPELL = {"add": "+", "sub": "-", "mul": "*", "matmul": "@", "truediv": "/", "floordiv": "//", "mod": "%",
          "pow": "**", "lshift": "<<", "rshift": ">>", "or": "|", "xor": "^", "and": "&"}
_COMPARE = {gast.Eq: ("__eq__",), gast.NotEq: ("__ne__", "__eq__"), gast.Lt: ("__lt__", "__gt__"),
            gast.LtE: ("__le__", "__ge__"), gast.Gt: ("__gt__", "__lt__"), gast.GtE: ("__ge__", "__le__")}
_BINARY = {gast.Add: "add", gast.Sub: "sub", gast.Mult: "mul", gast.MatMult: "matmul", gast.Div: "truediv",
           gast.FloorDiv: "floordiv", gast.Mod: "mod", gast.Pow: "pow", gast.LShift: "lshift",
           gast.RShift: "rshift", gast.BitOr: "or", gast.BitXor: "xor", gast.BitAnd: "and"}


def classes_run(kind, built, dunders) -> list:
    """``(class, dunder)`` Python may run for an implicit call of ``dunders`` on a value of ``kind`` (or of the
    class ``built``): the object's own class's, and for a list, tuple or dict given to ``print``/``str``/``==``/``in``
    its items' ``__repr__``/``__eq__`` (``print([cell])`` runs ``repr(cell)``)."""
    if isinstance(kind, tuple) and len(kind) > 1 and kind[0] == "obj" and isinstance(kind[1], type):
        return [(kind[1], d) for d in dunders]
    if kind is None:
        return [(built, d) for d in dunders] if isinstance(built, type) else []
    items = tuple(d for d, item in (("__repr__", "__repr__"), ("__str__", "__repr__"), ("__eq__", "__eq__"),
                                    ("__contains__", "__eq__")) if d in dunders)
    if not items or not isinstance(kind, tuple) or kind[:1] not in (("seq",), ("map",)):
        return []
    found, stack = [], [kind]
    while stack:
        k = stack.pop()
        if not isinstance(k, tuple) or not k:
            continue
        if k[0] == "obj" and len(k) > 1 and isinstance(k[1], type):
            found.extend((k[1], item) for d, item in (("__repr__", "__repr__"), ("__str__", "__repr__"),
                                                      ("__eq__", "__eq__"), ("__contains__", "__eq__"))
                         if d in items)
        elif k[0] in ("seq", "map") and len(k) > 2:
            stack.extend(part[1] if k[0] == "map" and isinstance(part, tuple) and len(part) == 2 else part
                         for part in k[2])
    return list(dict.fromkeys(found))


def implicit_calls(st):
    """``(name, construct, dunders)`` for each object named in ``st`` (its own expressions, not its blocks) whose
    class's dunders Python runs there without a call sct sees: ``if o:``, ``with o:``, ``len(o)``, ``print(o)``,
    ``f"{o}"``, ``3 in o``, ``for _ in o:``, ``o == 1``, ``o + 1``."""
    found = []

    def named(e, construct, dunders):
        if isinstance(e, gast.Name):
            found.append((e.id, construct, tuple(dunders)))

    if isinstance(st, (gast.If, gast.While)):
        named(st.test, f"`{'if' if isinstance(st, gast.If) else 'while'} {getattr(st.test, 'id', '')}:`", _TRUTH)
    if isinstance(st, gast.For):
        named(st.iter, f"`for ... in {getattr(st.iter, 'id', '')}:`", _ITER)
    if isinstance(st, gast.AugAssign) and type(st.op) in _BINARY:
        op = _BINARY[type(st.op)]
        named(st.target, f"`{getattr(st.target, 'id', '')} {_SPELL.get(op, 'op')}= ...`", (f"__i{op}__", f"__{op}__"))
        named(st.value, f"an operator on {getattr(st.value, 'id', '')}", (f"__r{op}__",))
    if isinstance(st, gast.Assign) and isinstance(st.targets[0], (gast.Tuple, gast.List)):
        named(st.value, f"unpacking {getattr(st.value, 'id', '')}", _ITER)
    if isinstance(st, gast.With):
        for item in st.items:
            named(item.context_expr, f"`with {getattr(item.context_expr, 'id', '')}:`", ("__enter__", "__exit__"))
    for part in _own_parts(st):
        for n in walk_nodes(part):
            if isinstance(n, (gast.IfExp, gast.Assert)):
                named(n.test, f"a test of {getattr(n.test, 'id', '')}", _TRUTH)
            elif isinstance(n, gast.BoolOp):
                for v in n.values:
                    named(v, f"`{getattr(v, 'id', '')} {'and' if isinstance(n.op, gast.And) else 'or'} ...`",
                          _TRUTH)
            elif isinstance(n, gast.UnaryOp):
                ops = _TRUTH if isinstance(n.op, gast.Not) else \
                    ({gast.USub: "__neg__", gast.UAdd: "__pos__", gast.Invert: "__invert__"}[type(n.op)],)
                named(n.operand, f"`not {getattr(n.operand, 'id', '')}`" if isinstance(n.op, gast.Not) else
                      f"an operator on {getattr(n.operand, 'id', '')}", ops)
            elif isinstance(n, gast.Call) and isinstance(n.func, gast.Name) and n.func.id in _BUILTINS:
                for a in list(n.args) + [k.value for k in n.keywords]:
                    a = a.value if isinstance(a, gast.Starred) else a
                    named(a, f"`{n.func.id}({getattr(a, 'id', '')})`", _BUILTINS[n.func.id])
            elif isinstance(n, gast.Call) and isinstance(n.func, gast.Attribute) and n.func.attr in _FORMATTING:
                for a in list(n.args[n.func.attr == "log":]) + [k.value for k in n.keywords]:
                    a = a.value if isinstance(a, gast.Starred) else a
                    named(a, f"`.{n.func.attr}(..., {getattr(a, 'id', '')})`", _TEXT)
            elif isinstance(n, gast.Call) and isinstance(n.func, gast.Attribute) and n.func.attr in _RT and \
                    isinstance(n.func.value, gast.Name) and n.func.value.id == "rt" and n.args:
                # (``for _ in cell:`` as the normalizer writes it: ``rt.as_sequence(cell)``)
                named(n.args[0], f"iterating over {getattr(n.args[0], 'id', '')}", _RT[n.func.attr])
            elif isinstance(n, gast.FormattedValue):
                named(n.value, f"the f-string's {{{getattr(n.value, 'id', '')}}}", _TEXT)
            elif isinstance(n, gast.Compare):
                for op, left, right in zip(n.ops, [n.left] + n.comparators, n.comparators):
                    if isinstance(op, (gast.In, gast.NotIn)):
                        named(right, f"`... in {getattr(right, 'id', '')}`", ("__contains__",) + _ITER)
                    elif type(op) in _COMPARE:
                        for side in (left, right):
                            named(side, f"a comparison with {getattr(side, 'id', '')}", _COMPARE[type(op)])
            elif isinstance(n, gast.Dict):
                for k in n.keys:
                    named(k, f"a dict key {getattr(k, 'id', '')}", ("__hash__", "__eq__"))
            elif isinstance(n, gast.Set):
                for k in n.elts:
                    named(k, f"a set item {getattr(k, 'id', '')}", ("__hash__", "__eq__"))
            elif isinstance(n, gast.BinOp) and type(n.op) in _BINARY:
                op = _BINARY[type(n.op)]
                named(n.left, f"an operator on {getattr(n.left, 'id', '')}", (f"__{op}__",))
                named(n.right, f"an operator on {getattr(n.right, 'id', '')}", (f"__r{op}__",))
                if isinstance(n.left, gast.Constant) and isinstance(n.left.value, str) and op == "mod":
                    for e in (n.right.elts if isinstance(n.right, gast.Tuple) else [n.right]):
                        named(e, f"a %-format of {getattr(e, 'id', '')}", _TEXT)
    return found


def reset_field(check, s, receivers, callee=None, fields=None) -> Optional[str]:
    """The field (``cell.h``) that the call ``s`` (of ``callee``, setting fields of ``receivers``' objects; or
    code setting ``fields``, ANY for any) may replace between a traced write of it and a read of it, as the user
    spells it; None where there is none.  A read is ``cell.h`` in the function's own code, or any code it hands
    the object to: a method or function given it (``cell.peek()``, run as a call or read as a helper),
    ``vars(cell)``, ``cell.__dict__``, ``getattr``, a dunder Python runs on it (was: only ``cell.h``, so a read by
    another module's ``cell.peek()`` or ``vars(cell)["h"]`` after ``cell.reset()`` sent its derivative on into
    the value the reset replaced, red team 52 F14)."""
    if callee is not None:
        fields = fields_set(callee)
    receivers = [r for r in receivers if r is not None]
    if fields is not ANY and not fields or not receivers:
        return None
    analysis = check.analysis
    mine = set()
    for r in receivers:
        mine |= analysis.objects(s, r)
    order: dict = {}
    loops: dict = {}
    _layout(check.fdef.body, order, loops)
    if id(s) not in order:
        return None
    here, around = order[id(s)], set(loops[id(s)])
    if isinstance(s, gast.While):
        around.add(id(s))           # (``while cell:``: its test runs again after its body)

    reach = _classes_reached(check, receivers) if fields is ANY else None

    def same(st, name) -> bool:
        if name in receivers:
            return True
        if reach is not None:
            # (code that may do anything may set fields of the objects its object reaches too: a Holder(cell)
            # built here, any object of a class its argument's kind holds)
            kind = check.activity.kinds.get(name)
            cls = kind[1] if isinstance(kind, tuple) and len(kind) > 1 and kind[0] == "obj" else \
                check._built_class(name) if kind is None else None
            if reach is True or not isinstance(cls, type) or cls in reach:
                return True
        objs = analysis.objects(st, name)
        return bool(objs & mine - {EXT}) or (EXT in objs and EXT in mine)

    written, owners, read = {}, set(), []
    statements = [st for st in _statements(check.fdef.body) if st is not s and id(st) in order]
    for st in statements:
        before = order[id(st)] < here or bool(around & set(loops[id(st)]))
        if isinstance(st, gast.Assign) and len(st.targets) == 1 and isinstance(st.targets[0], gast.Attribute):
            t = st.targets[0]
            if before and (fields is ANY or t.attr in fields) and isinstance(t.value, gast.Name) and \
                    (t.value.id in check.active or check.is_active(st.value)) and same(st, t.value.id):
                written.setdefault(t.attr, f"{t.value.id}.{t.attr}")
                owners.add(t.value.id)
    if not written:
        return None
    holders, dicts = _holders(check, receivers + sorted(owners) if fields is ANY else receivers)
    for st in statements:
        if order[id(st)] > here or bool(around & set(loops[id(st)])):
            read.extend(_reads(st, same, holders, dicts))
    for attr in read:
        if attr is ANY and written:
            return next(iter(written.values()))
        if attr in written:
            return written[attr]
    return None


def _classes_reached(check, receivers):
    """The classes of the objects the receivers' kinds hold (themselves, their fields' objects, their items'),
    True where a receiver's kind is not known (an object built here: it may hold anything it was given)."""
    found, stack, kinds = set(), [], check.activity.kinds
    builds = {st.targets[0].id: st.value for st in _statements(check.fdef.body) if isinstance(st, gast.Assign)
              and isinstance(st.targets[0], gast.Name) and isinstance(st.value, gast.Call)}
    for r in receivers:
        kind = kinds.get(r)
        if kind is None:
            cls, call = check._built_class(r), builds.get(r)
            if not isinstance(cls, type) or call is None:
                return True
            found.add(cls)          # (``ld = Loader(xs)``: what it was given)
            for a in list(call.args) + [k.value for k in call.keywords]:
                if isinstance(a, gast.Constant):
                    continue
                if not isinstance(a, gast.Name) or kinds.get(a.id) is None:
                    return True
                stack.append(kinds[a.id])
            continue
        stack.append(kind)
    seen = 0
    while stack and seen < 10000:
        seen += 1
        k = stack.pop()
        if not isinstance(k, tuple) or not k:
            continue
        if k[0] == "obj" and len(k) > 1 and isinstance(k[1], type):
            found.add(k[1])
        if k[0] in ("obj", "seq", "map") and len(k) > 2 and isinstance(k[2], tuple):
            stack.extend(part[1] if isinstance(part, tuple) and len(part) == 2 and not isinstance(part[0], tuple)
                         else part for part in k[2])
    return found


def _holders(check, receivers) -> tuple:
    """The names that may hold the object (or reach it): the receivers, and names bound to them, to their
    attributes or items, or to displays of them (``c = cell``, ``sub = net.cell``, ``ms = [cell]``), except
    names known to hold an array or a number (their kind, the kind of the field they read, or a field written
    here: ``y = cell.h``); and of those, the names bound to a holder's ``__dict__`` (``vars(cell)``)."""
    kinds = dict(getattr(check.activity, "kinds", {}) or {})
    stored = {t.attr for st in _statements(check.fdef.body) if isinstance(st, gast.Assign)
              for t in st.targets if isinstance(t, gast.Attribute)}
    holders, dicts = set(receivers), set()

    def reaches(e) -> bool:
        if isinstance(e, gast.Name):
            return e.id in holders
        if isinstance(e, gast.Attribute):
            return e.attr not in stored and reaches(e.value)
        if isinstance(e, gast.Subscript):
            return reaches(e.value)
        if isinstance(e, (gast.Tuple, gast.List, gast.Set)):
            return any(reaches(v) for v in e.elts)
        if isinstance(e, gast.Dict):
            return any(reaches(v) for v in e.values if v is not None)
        if isinstance(e, gast.IfExp):
            return reaches(e.body) or reaches(e.orelse)
        return False

    grown = True
    while grown:
        grown = False
        for st in _statements(check.fdef.body):
            if isinstance(st, gast.Assign) and reaches(st.value):
                for t in st.targets:
                    for n in gast.walk(t):
                        if not isinstance(n, gast.Name) or n.id in holders:
                            continue
                        kind = kinds.get(n.id)
                        if kind is None and n is t:
                            kind = kinds[n.id] = _kind_at(kinds, st.value)
                        if not (isinstance(kind, tuple) and kind[:1] in (("dl",), ("nd",), ("num",), ("const",))):
                            holders.add(n.id)
                            grown = True
                            if n is t and isinstance(st.value, gast.Attribute) and st.value.attr == "__dict__":
                                dicts.add(n.id)
    return holders, dicts


def _kind_at(kinds, e):
    """The kind of ``e`` (``cell.W``, ``d["w"]``, ``cell.__dict__["W"]``) read from the kinds of the names it
    starts from (an object's fields, a dict's items), or None."""
    if isinstance(e, gast.Name):
        return kinds.get(e.id)
    if isinstance(e, gast.Attribute) or isinstance(e, gast.Subscript) and isinstance(e.slice, gast.Constant):
        base = _kind_at(kinds, e.value)
        key = e.attr if isinstance(e, gast.Attribute) else e.slice.value
        if key == "__dict__" or not isinstance(base, tuple) or len(base) < 3 or base[0] not in ("obj", "map"):
            return base if key == "__dict__" else None
        for part in base[2] if isinstance(base[2], tuple) else ():
            if isinstance(part, tuple) and len(part) == 2 and part[0] == key:
                return part[1]
    return None


def _reads(st, same, holders, dicts=frozenset()) -> list:
    """The fields ``st`` may read of an object ``same`` tells: ``o.h`` (the field), ANY for ``o`` handed to code
    (``o.peek()``, ``f(o)``, ``vars(o)``, ``o.__dict__``, a dunder Python runs: ``if o:``)."""
    found, named = [], {}
    for part in _own_parts(st):
        for n in walk_nodes(part):
            # (``vars(cell)["W"]``, ``cell.__dict__["W"]``, ``getattr(cell, "W")``: that field only)
            key = n.slice if isinstance(n, gast.Subscript) else \
                n.args[1] if isinstance(n, gast.Call) and isinstance(n.func, gast.Name) and \
                n.func.id == "getattr" and len(n.args) >= 2 else None
            if isinstance(key, gast.Constant) and isinstance(key.value, str):
                named[id(n.value if isinstance(n, gast.Subscript) else n)] = key.value
    if isinstance(st, gast.Assign) and isinstance(st.targets[0], gast.Name) and st.targets[0].id in dicts:
        return found            # (``d = cell.__dict__``: read through d, below)
    for part in _own_parts(st):
        for n in walk_nodes(part):
            if isinstance(n, gast.Subscript) and isinstance(n.value, gast.Name) and n.value.id in dicts:
                found.append(named.get(id(n.value), ANY))
            elif isinstance(n, gast.Attribute) and isinstance(n.ctx, gast.Load) and isinstance(n.value, gast.Name) \
                    and same(st, n.value.id):
                found.append(named.get(id(n), ANY) if n.attr == "__dict__" else n.attr)
            elif isinstance(n, gast.Call) and isinstance(n.func, gast.Name) and n.func.id in ("vars", "getattr") \
                    and n.args and isinstance(n.args[0], gast.Name) and id(n) in named:
                if same(st, n.args[0].id):
                    found.append(named[id(n)])
            elif isinstance(n, gast.Call) and not (isinstance(n.func, gast.Attribute) and
                                                   isinstance(n.func.value, gast.Name) and n.func.value.id == "rt"):
                if isinstance(n.func, gast.Attribute) and isinstance(n.func.value, gast.Name) and \
                        n.func.value.id in holders:
                    found.append(ANY)           # cell.peek(): a method reads what it likes
                for a in list(n.args) + [k.value for k in n.keywords]:
                    a = a.value if isinstance(a, gast.Starred) else a
                    if isinstance(a, gast.Name) and a.id in holders:
                        found.append(ANY)       # vars(cell), getattr(cell, "h"), helper(cell)
    found.extend(ANY for name, _, _ in implicit_calls(st) if name in holders)
    return found
