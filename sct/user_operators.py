"""``a * b``, ``-a`` and ``t += v`` where an operand is an object of a user class with that operator:
the statement becomes the call Python makes (was: refused, sct/operand_checks.py).

Python runs ``a * b`` as ``type(a).__mul__(a, b)``, except that a right operand whose class is a
subclass of ``type(a)`` with a ``__rmul__`` of its own goes first, and ``NotImplemented`` returned
passes the turn to ``type(b).__rmul__(b, a)``, then to a TypeError; ``2.0 * v`` runs
``type(v).__rmul__(v, 2.0)`` once float's ``__mul__`` has returned ``NotImplemented`` (numpy's
arrays and scalars give the turn only to a class whose ``__array_ufunc__`` is None); ``t += v``
tries ``type(t).__iadd__`` first; ``-a`` is ``type(a).__neg__(a)``.  Where the compiler proves
the classes (``_classes``: an argument's kind, ``Cls(...)``, a number, an array, the result of
an operator whose method returns ``Cls(...)`` or ``self``), the normalized statement becomes::

    operand_classes = rt.user_operator_here(a, b, __sct_operator_3_V___mul__, "__mul__", "__rmul__", "*")  # still so?
    t = __sct_operator_3_V___mul__(a, b)       # V.__mul__, differentiated as any function of the user's
    rt.user_operator_result(t, operand_classes, "*", "__rmul__")   # NotImplemented: Python's TypeError, or refused

(the function bound to a guarded global name, as sct/properties.py binds getters; the checks
refuse at run time what the compiler's reading of the classes does not cover).  Anything not
proven that way keeps the refusal of sct/operand_checks.py.
"""
from __future__ import annotations

import copy
import types
from typing import Dict, Optional

import gast

from .ir import call, const, dotted_name, load, walk_nodes
from .operand_checks import BINARY_DUNDERS, UNARY_DUNDERS, UNKNOWN, _numpy_function, odd_class, user_class
from .augmented_writes import INPLACE_METHODS
from .unpack_objects import _blocks

PYNUM = "a Python number"           # int, float, complex or bool
NUMERIC = "a number or an array"    # also numpy's arrays, scalars, dlarray: no user object


def raw_method(cls, name: str):
    """What Python's operator finds for ``name`` on the class ``cls`` (along its MRO), else None."""
    for klass in cls.__mro__:
        if name in vars(klass):
            return vars(klass)[name]
    return None


def _plain_function(cls, name: str):
    """The plain function of the user's that ``cls``'s operator ``name`` runs (not a library's: a
    scipy.sparse matrix's ``__matmul__`` keeps its own refusal), else None."""
    from .parse import library_file
    f = raw_method(cls, name)
    if type(f) is not types.FunctionType or getattr(f, "__sct_closure__", None) is not None or \
            library_file(f.__code__.co_filename):
        return None
    return f


def _constructs_itself(cls) -> bool:
    """Does ``cls(...)`` make an object of ``cls`` itself (no metaclass, no ``__new__`` of the user's)?"""
    return type(cls) is type and cls.__new__ is object.__new__ and user_class(cls) and not odd_class(cls)


def _returned_class(f, receiver):
    """The class every return of the function ``f`` gives: ``Cls(...)`` of one user class, or its first
    parameter (``return self``: the receiver's class); None where not proven so."""
    import inspect
    import textwrap
    from .operand_checks import _own_nodes
    try:
        tree = gast.parse(textwrap.dedent(inspect.getsource(f.__code__)))
    except (OSError, TypeError, SyntaxError, IndentationError):
        return None
    top = next((n for n in tree.body if isinstance(n, (gast.FunctionDef, gast.AsyncFunctionDef))), None)
    if top is None or not top.body or not isinstance(top.body[-1], gast.Return) or not top.args.args:
        return None                 # (a way to the end of the body returns None)
    me = top.args.args[0].id
    found = set()
    for n in _own_nodes(tree):
        if isinstance(n, (gast.Yield, gast.YieldFrom, gast.Await)):
            return None
        if isinstance(n, gast.Name) and n.id == me and isinstance(n.ctx, (gast.Store, gast.Del)):
            return None
        if not isinstance(n, gast.Return):
            continue
        value = n.value
        if isinstance(value, gast.Name) and value.id == me:
            found.add(receiver)
        elif isinstance(value, gast.Call) and isinstance(value.func, gast.Name):
            cls = f.__globals__.get(value.func.id) if value.func.id not in f.__code__.co_freevars else None
            if not (isinstance(cls, type) and _constructs_itself(cls)):
                return None
            found.add(cls)
        else:
            return None
    return found.pop() if len(found) == 1 else None


def _kind_class(kind):
    if not isinstance(kind, tuple) or not kind:
        return None
    if kind[0] in ("dl", "nd"):
        return NUMERIC
    if kind[0] == "num":
        return PYNUM if kind[-1] in (int, float, complex) else NUMERIC
    if kind[0] == "const" and len(kind) > 1 and kind[1] is bool:
        return PYNUM
    if kind[0] in ("obj", "const") and len(kind) > 1 and isinstance(kind[1], type) and \
            user_class(kind[1]) and not odd_class(kind[1]):
        return kind[1]
    return None


def _join(a, b):
    if a is None or b is None:
        return None
    if a == b:
        return a
    if {a, b} == {PYNUM, NUMERIC}:
        return NUMERIC
    return None


class _Plan:
    """What Python runs for one operator statement: ``call(function, receiver, other)``."""
    def __init__(self, function, receiver, other, names, symbol, reflected=False, defer_arrays=False):
        self.function, self.receiver, self.other = function, receiver, other
        self.names, self.symbol, self.reflected, self.defer_arrays = names, symbol, reflected, defer_arrays


def _binary_plan(op, ca, cb, augmented: bool) -> Optional[_Plan]:
    """The method ``a op b`` (``a op= b``) runs, for operands of the classes ``ca`` and ``cb``, where
    that is proven and no ``NotImplemented`` turn is taken before it."""
    symbol, left, right = BINARY_DUNDERS[type(op)]
    if augmented:
        symbol += "="
    if isinstance(ca, type):
        if augmented:
            inplace = raw_method(ca, INPLACE_METHODS[type(op)])
            if inplace is not None:
                f = _plain_function(ca, INPLACE_METHODS[type(op)])
                return _Plan(f, 0, 1, (INPLACE_METHODS[type(op)], None), symbol) if f is not None else None
        f = _plain_function(ca, left)
        if f is None:
            return None
        # (a right operand of a class not proven here, ``acc * (k + 1)`` of a loop counter k: the check
        # before the call, rt.user_operator_here, refuses where its class's reflected method would go
        # first; was: refused at compile time, an operator of a user class in a loop)
        if isinstance(cb, type) and cb is not ca and issubclass(cb, ca) and \
                raw_method(cb, right) is not raw_method(ca, right):
            return None         # (the subclass's __rmul__ goes first: not followed)
        return _Plan(f, 0, 1, (left, right), symbol)
    if ca in (PYNUM, NUMERIC) and isinstance(cb, type):
        f = _plain_function(cb, right)
        if f is None:
            return None
        defer = raw_method(cb, "__array_ufunc__") is None and \
            any("__array_ufunc__" in vars(k) for k in cb.__mro__)
        if ca is NUMERIC and (not defer or augmented):
            return None         # (numpy's operator would run, over an object array)
        return _Plan(f, 1, 0, (left, right), symbol, reflected=True, defer_arrays=defer)
    return None


def _item_plan(ca) -> Optional[_Plan]:
    """``obj[i]``: ``type(obj).__getitem__(obj, i)``."""
    if not isinstance(ca, type):
        return None
    f = _plain_function(ca, "__getitem__")
    return _Plan(f, 0, 1, ("__getitem__", None), "[]") if f is not None else None


def _item_forwarded(resolver, cls, plan) -> Optional[str]:
    """The field ``d`` where ``cls``'s ``__getitem__`` (``plan``'s) is ``def __getitem__(self, k): return self.d[k]``
    and ``d`` an attribute of the object itself (no class along the MRO defines it, no ``__getattr__`` or
    ``__getattribute__`` of the user's): ``obj[k]`` is ``obj.d[k]``.  Guarded: the method (and its code)
    and the field's absence from the class; None otherwise."""
    import inspect
    import textwrap
    if plan is None or plan.symbol != "[]" or not isinstance(cls, type):
        return None
    f = plan.function
    try:
        tree = gast.parse(textwrap.dedent(inspect.getsource(f.__code__)))
    except (OSError, TypeError, SyntaxError, IndentationError):
        return None
    top = tree.body[0] if len(tree.body) == 1 else None
    if not isinstance(top, gast.FunctionDef) or top.decorator_list or top.args.vararg or top.args.kwarg or \
            top.args.kwonlyargs or top.args.posonlyargs or top.args.defaults or len(top.args.args) != 2:
        return None
    me, key = (a.id for a in top.args.args)
    body = [st for st in top.body if not (isinstance(st, gast.Expr) and isinstance(st.value, gast.Constant))]
    v = body[0].value if len(body) == 1 and isinstance(body[0], gast.Return) else None
    if not (isinstance(v, gast.Subscript) and isinstance(v.slice, gast.Name) and v.slice.id == key and
            isinstance(v.value, gast.Attribute) and isinstance(v.value.value, gast.Name) and v.value.value.id == me):
        return None
    field = v.value.attr
    if raw_method(cls, field) is not None or any(raw_method(cls, n) not in (None, getattr(object, n, None))
                                                  for n in ("__getattr__", "__getattribute__")):
        return None
    method = resolver.attribute(cls, "__getitem__")
    for attr in ("__code__", "__defaults__", "__kwdefaults__"):
        resolver.attribute(method, attr)
    resolver.attribute(cls, field)
    return field


def _subscript(value) -> bool:
    """``obj[i]`` read by a name or a constant (not an unpacking's read: sct/unpack_objects.py)."""
    return isinstance(value, gast.Subscript) and isinstance(value.value, gast.Name) and \
        isinstance(value.slice, (gast.Name, gast.Constant)) and not hasattr(value, "sct_unpack")


def _unary_plan(op, ca) -> Optional[_Plan]:
    if not isinstance(ca, type) or type(op) not in UNARY_DUNDERS:
        return None
    symbol, name = UNARY_DUNDERS[type(op)]
    f = _plain_function(ca, name)
    return _Plan(f, 0, None, (name,), symbol) if f is not None else None


class _Classes:
    """The class of each name's value (a user class, PYNUM, NUMERIC), where every binding of the
    name gives it; the plan of each operator statement over them."""

    def __init__(self, fdef, resolver, param_kinds, rt_name):
        self.resolver, self.rt_name = resolver, rt_name
        self.assigns = [s for block in _blocks(fdef) for s in block
                        if isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], gast.Name)]
        simple: Dict[str, int] = {}
        for s in self.assigns:
            simple[s.targets[0].id] = simple.get(s.targets[0].id, 0) + 1
        other = set()
        counts: Dict[str, int] = {}
        for node in walk_nodes(fdef):   # (nested functions too: a nonlocal rebinding; one walk for both)
            if isinstance(node, gast.Name):
                if isinstance(node.ctx, (gast.Store, gast.Del)):
                    counts[node.id] = counts.get(node.id, 0) + 1
            elif isinstance(node, (gast.Global, gast.Nonlocal)):
                other.update(node.names)
        params = {a.id for a in fdef.args.args + fdef.args.kwonlyargs + fdef.args.posonlyargs
                  if isinstance(a, gast.Name)}
        self.unknown = other | {n for n, c in counts.items() if c != simple.get(n, 0) + (n in params)}
        self.start = {p: _kind_class(param_kinds.get(p)) for p in params}
        self.of: Dict[str, object] = {}
        self.returns: Dict = {}
        for _ in range(50):
            before = dict(self.of)
            for s in self.assigns:
                name = s.targets[0].id
                if name in self.unknown:
                    continue
                value = self.expr(s.value, _augmented(s))
                if value != "unset":
                    self.of[name] = value if name not in self.of else _join(self.of[name], value)
            if self.of == before:
                break
        else:
            self.of = {}

    def name(self, name: str):
        if name in self.unknown:
            return None
        if name in self.start:
            start = self.start[name]
            return start if name not in self.of else _join(start, self.of[name])
        return self.of.get(name, "unset")

    def operand(self, node):
        if isinstance(node, gast.Constant):
            return PYNUM if type(node.value) in (int, float, complex, bool) else None
        if isinstance(node, gast.Name):
            return self.name(node.id)
        return None

    def returned(self, function, receiver):
        key = (function, receiver)
        if key not in self.returns:
            self.returns[key] = _returned_class(function, receiver)
        return self.returns[key]

    def known(self, node):
        found = self.operand(node)
        return None if found == "unset" else found

    def expr(self, value, augmented: bool = False):
        if isinstance(value, (gast.Name, gast.Constant)):
            return self.operand(value)
        if isinstance(value, gast.BinOp) and type(value.op) in BINARY_DUNDERS:
            ca, cb = self.operand(value.left), self.operand(value.right)
            if "unset" in (ca, cb):
                return "unset"
            plan = _binary_plan(value.op, ca, cb, augmented)
            if plan is not None:
                return self.returned(plan.function, ca if plan.receiver == 0 else cb)
            if ca in (PYNUM, NUMERIC) and cb in (PYNUM, NUMERIC):
                return PYNUM if ca == cb == PYNUM else NUMERIC
            return None
        if isinstance(value, gast.UnaryOp):
            ca = self.operand(value.operand)
            if ca == "unset":
                return "unset"
            plan = _unary_plan(value.op, ca)
            if plan is not None:
                return self.returned(plan.function, ca)
            return ca if ca in (PYNUM, NUMERIC) and type(value.op) in UNARY_DUNDERS else None
        if _subscript(value):
            ca = self.operand(value.value)
            if ca == "unset":
                return "unset"
            plan = _item_plan(ca)
            return self.returned(plan.function, ca) if plan is not None else None
        if isinstance(value, gast.Call):
            if dotted_name(value.func) == f"{self.rt_name}.inplace_result" and len(value.args) == 2:
                new, old = (self.expr(a) for a in value.args)
                if "unset" in (new, old):
                    return "unset"
                return new if isinstance(old, type) or old == PYNUM else None
            try:
                target = self.resolver.resolve(value.func)
            except Exception:
                return None
            if isinstance(target, type) and _constructs_itself(target):
                return target
            if _numpy_function(target):         # np.sin(x) of numbers and arrays: numpy's (no dispatch)
                found = [self.operand(a) if not isinstance(a, gast.Constant) else NUMERIC
                         for a in list(value.args) + [k.value for k in value.keywords]]
                if "unset" in found:
                    return "unset"
                if found and all(f in (PYNUM, NUMERIC) for f in found):
                    return NUMERIC
        return None


def _augmented(stmt) -> bool:
    return getattr(stmt, "sct_augmented", getattr(stmt, "sct_user_augmented", None)) is not None


def compile_user_operators(fdef, resolver, param_kinds, namer, rt_name: str, filename: str) -> None:
    """Rewrite the operator statements on objects of user classes into their methods' calls (see the
    module's doc), in place."""
    if not any(isinstance(n, (gast.BinOp, gast.UnaryOp, gast.Subscript)) or isinstance(n, gast.Call) and
               isinstance(n.func, gast.Name) and n.func.id == "sum" for n in walk_nodes(fdef)):
        return
    classes = None
    for block in _blocks(fdef):
        at = 0
        while at < len(block):
            stmt = block[at]
            value = getattr(stmt, "value", None) if isinstance(stmt, gast.Assign) and len(stmt.targets) == 1 \
                and isinstance(stmt.targets[0], gast.Name) else None
            if isinstance(value, gast.Call) and isinstance(value.func, gast.Name) and value.func.id == "sum":
                if classes is None:
                    classes = _Classes(fdef, resolver, param_kinds, rt_name)
                added = _summed_objects(fdef, block, at, classes, namer)
                if added is not None:
                    block[at:at + 1] = added
                    classes = None          # (the new names' classes: read again)
                    continue
            if not (isinstance(value, (gast.BinOp, gast.UnaryOp)) or _subscript(value)):
                at += 1
                continue
            if classes is None:
                classes = _Classes(fdef, resolver, param_kinds, rt_name)
            if isinstance(value, gast.BinOp):
                operands = [value.left, value.right]
                plan = _binary_plan(value.op, classes.known(value.left), classes.known(value.right),
                                    _augmented(stmt)) \
                    if type(value.op) in BINARY_DUNDERS else None
            elif isinstance(value, gast.Subscript):
                operands = [value.value, value.slice]
                plan = _item_plan(classes.known(value.value))
                held_in = _item_forwarded(resolver, classes.known(value.value), plan)
                if held_in is not None:
                    # ``P["w"]`` of a class whose __getitem__ is ``return self.d[k]``: ``P.d["w"]``, an item of
                    # its field, which the sites follow (was: the method's value, a second name of an item P
                    # holds: dlgradient(y, P["w"]) refused)
                    field = namer.fresh(f"{value.value.id}_{held_in}")
                    read = gast.Assign(targets=[gast.Name(id=field, ctx=gast.Store(), annotation=None,
                                                          type_comment=None)],
                                       value=gast.Attribute(value=copy.deepcopy(value.value), attr=held_in,
                                                            ctx=gast.Load()), type_comment=None)
                    gast.copy_location(read, stmt)
                    stmt.value = gast.copy_location(gast.Subscript(value=load(field), slice=value.slice,
                                                                   ctx=gast.Load()), value)
                    block[at:at] = [read]
                    at += 2
                    classes = None
                    continue
            else:
                operands = [value.operand]
                plan = _unary_plan(value.op, classes.known(value.operand))
            if plan is None or not all(isinstance(o, (gast.Name, gast.Constant)) for o in operands):
                at += 1
                continue
            line = getattr(stmt, "lineno", None) or getattr(fdef, "lineno", 0)
            cls = classes.known(operands[plan.receiver])
            # (the name of the method called: ``__rmul__`` for ``2.0 * v``; was: plan.names[0], so ``2.0 * v``
            # and ``v * 2.0`` in one function were bound to one of the two methods)
            function = _function_name(resolver, cls, plan.names[1] if plan.reflected else plan.names[0],
                                      plan.function)
            # (each use its own copy of the operand nodes, and the check after the call reads the
            # operands' classes the check before gave, not the operands: was: one Name node shared by the
            # three statements, so ``p = p * 2.0`` had all of them renamed to the new version of p)
            fresh = lambda o: copy.deepcopy(o)      # noqa: E731
            args = [fresh(operands[plan.receiver])] + ([fresh(operands[plan.other])] if plan.other is not None else [])
            names = [const(n) for n in plan.names] + [const(None)] * (2 - len(plan.names))
            held = namer.fresh("operand_classes") if plan.other is not None and plan.symbol != "[]" else None
            here = call(f"{rt_name}.user_operator_here", [
                fresh(operands[0]), fresh(operands[1]) if len(operands) > 1 else const(None), load(function)] + names +
                [const(plan.symbol), const(plan.reflected), const(plan.defer_arrays)])
            check = gast.Expr(value=here) if held is None else \
                gast.Assign(targets=[gast.Name(id=held, ctx=gast.Store(), annotation=None, type_comment=None)],
                            value=here, type_comment=None)
            stmt.value = call(function, args)
            made = classes.returned(plan.function, cls)
            stmt.value.sct_user_operator = made if made is not None else UNKNOWN
            if getattr(stmt, "sct_augmented", None) is not None:
                # (``t += v``: t is bound to what the call returns, ``rt.inplace_result`` gives it back
                # for an object; what the method changes in place is the call's, followed as any call's)
                stmt.sct_user_augmented = stmt.sct_augmented
                del stmt.sct_augmented
            result = stmt.targets[0].id
            after = gast.Expr(value=call(f"{rt_name}.user_operator_result", [
                load(result), load(held) if held is not None else const(None)] + names +
                [const(plan.symbol), const(plan.reflected)]))
            # (a NotImplemented of -a or a[i] is the value Python gives: no other turn)
            written = [check, stmt, after] if plan.other is not None and plan.symbol != "[]" else [check, stmt]
            for s in written:
                s.lineno = line
            block[at:at + 1] = written
            at += len(written)


def _summed_objects(fdef, block, at, classes, namer):
    """``t = sum(items)`` of a list ``items = [a, b, ...]`` made just before (in the same block, read nowhere
    else) holding an object of a user class: ``t1 = 0 + a; t2 = t1 + b; ...; t = tn``, the additions Python's
    sum makes, left to right from its start (each then the user's ``__add__``/``__radd__``, below; was: the
    builtin's derivative taken for numbers, an internal error in the gradient); else None."""
    import builtins
    stmt = block[at]
    value = stmt.value
    try:
        if classes.resolver.resolve(value.func) is not builtins.sum:
            return None
    except Exception:
        return None
    if value.keywords or not 1 <= len(value.args) <= 2 or not isinstance(value.args[0], gast.Name) or \
            not all(isinstance(a, (gast.Name, gast.Constant)) for a in value.args):
        return None
    listed = value.args[0].id
    made = [s for s in block[:at] if isinstance(s, gast.Assign) and len(s.targets) == 1 and
            isinstance(s.targets[0], gast.Name) and s.targets[0].id == listed]
    if len(made) != 1 or not isinstance(made[0].value, (gast.List, gast.Tuple)) or listed in classes.unknown:
        return None
    items = made[0].value.elts
    if not items or not all(isinstance(e, (gast.Name, gast.Constant)) for e in items) or \
            not any(isinstance(classes.known(e), type) for e in items):
        return None
    uses = [n for n in walk_nodes(fdef) if isinstance(n, gast.Name) and n.id == listed]
    if len(uses) != 2 or any(isinstance(classes.known(e), type) and e.id in classes.unknown
                             for e in items if isinstance(e, gast.Name)):
        return None             # (the list read elsewhere, or changed: not only these additions)
    total = copy.deepcopy(value.args[1]) if len(value.args) == 2 else const(0)
    out = []
    for e in items:
        name = namer.fresh(f"{stmt.targets[0].id}_sum")
        out.append(gast.Assign(targets=[gast.Name(id=name, ctx=gast.Store(), annotation=None, type_comment=None)],
                               value=gast.BinOp(left=total, op=gast.Add(), right=copy.deepcopy(e)), type_comment=None))
        total = load(name)
    out.append(gast.Assign(targets=stmt.targets, value=total, type_comment=None))
    for s in out:
        gast.copy_location(s, stmt)
    return out


def _function_name(resolver, cls, name: str, function) -> str:
    """A global name of the generated code bound to ``cls``'s method ``name``, guarded: the code is
    compiled again where the class's method changes (as sct/properties.py's getters)."""
    from .analysis import Guard
    from .options import _Lookup
    made = resolver.__dict__.setdefault("operator_methods", {})
    key = made.get((cls, name))
    if key is None:
        key = made[(cls, name)] = f"__sct_operator_{len(resolver.guards)}_{cls.__name__}_{name}"
        resolver.guards[key] = Guard(_Lookup(lambda: raw_method(cls, name)), key, function)
    return key
