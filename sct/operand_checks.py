"""Operators whose operand may be an object of the user's class.

Generated code differentiates ``a * b``, ``-a`` and ``a[i]`` with the rules of numpy's operators.
When an operand is an object of the user's class with its own ``__mul__`` (``__rmul__``, ``__neg__``,
``__getitem__``, ...), Python runs that method instead, and the rule's derivative is not its
derivative (``Pow(3) * x`` computing ``x ** 3`` got the gradient of a product: 1, silently).

``check_operands`` finds, for each operator a derivative passes through, where its operands' values
come from (the statements assigning them, the kinds of the arguments, the globals): an operand that
may be an object of a user class defining that operator is refused at its line; one whose value
comes from code the compiler does not see through (the result of a helper it does not
differentiate there, a field of an object built here), or of a name that may hold an array too
(``s = temp if temp is not None else x[0]``), gets a run-time check
(``rt.array_operand``), recorded in ``Activity.operand_checks``.
"""
from __future__ import annotations

import copy
import numbers
import types
from typing import Dict, List, Set

import gast
import numpy as np

from .analysis import Unresolved, _MISSING, fixed_point_statements
from .errors import CompileError
from .runtime.support import operation_words

BINARY_DUNDERS = {
    gast.Add: ("+", "__add__", "__radd__"), gast.Sub: ("-", "__sub__", "__rsub__"),
    gast.Mult: ("*", "__mul__", "__rmul__"), gast.Div: ("/", "__truediv__", "__rtruediv__"),
    gast.Pow: ("**", "__pow__", "__rpow__"), gast.MatMult: ("@", "__matmul__", "__rmatmul__"),
    gast.Mod: ("%", "__mod__", "__rmod__"), gast.FloorDiv: ("//", "__floordiv__", "__rfloordiv__"),
}
UNARY_DUNDERS = {gast.USub: ("-", "__neg__"), gast.UAdd: ("+", "__pos__")}

import operator as _operator
_OPERATOR_FUNCTIONS = {id(getattr(_operator, f)): (symbol, left, right) for op, (symbol, left, right) in
                       BINARY_DUNDERS.items()
                       for f in [{"+": "add", "-": "sub", "*": "mul", "/": "truediv", "**": "pow", "@": "matmul",
                                  "%": "mod", "//": "floordiv"}[symbol]]}
_OPERATOR_FUNCTIONS[id(_operator.neg)] = ("-", "__neg__")
_OPERATOR_FUNCTIONS[id(_operator.pos)] = ("+", "__pos__")
_OPERATOR_FUNCTIONS[id(_operator.getitem)] = ("[]", "__getitem__")

# what numpy runs of an object's class when it is an argument of a numpy function: its
# __array_ufunc__/__array_function__ (dispatch), __array__, or (in an object array) its operators
NUMPY_DUNDERS = tuple(sorted({n for _, *names in BINARY_DUNDERS.values() for n in names} |
                             {n for _, n in UNARY_DUNDERS.values()} |
                             {"__abs__", "__array_ufunc__", "__array_function__", "__array__",
                              "__array_priority__", "__array_interface__", "__array_wrap__"}))


def _numpy_function(target):
    """The name numpy's function or ufunc ``target`` is called by (``np.multiply``), else None."""
    if isinstance(target, np.ufunc):
        return "np." + target.__name__
    module = getattr(target, "__module__", None)
    if callable(target) and not isinstance(target, type) and isinstance(module, str) and \
            module.split(".")[0] == "numpy":
        return "np." + getattr(target, "__name__", "function")
    return None


UNKNOWN = "unknown"        # an origin the compiler cannot see: checked at run time

_PLAIN = (np.ndarray, np.generic, numbers.Number, list, tuple, dict, str, bytes, type(None), slice, range,
          set, frozenset, types.ModuleType, types.FunctionType, types.BuiltinFunctionType, types.MethodType)


def user_class(cls) -> bool:
    """A class of the user's code (not numpy's, sct's or Python's own types)."""
    from .runtime.support import number_subclass_override
    if not isinstance(cls, type) or issubclass(cls, _PLAIN) and not number_subclass_override(cls):
        return False        # (a float subclass with its own __mul__ is one: was not, numpy's * taken)
    from .runtime.origins import module_top
    return module_top(cls) not in ("numpy", "sct", "builtins", "sct_generated")


def truth_runs_user_code(cls) -> bool:
    """Whether ``bool(v)`` of a value of ``cls`` runs the user's code (its class's ``__bool__``/``__len__``)."""
    return user_class(cls) and any(type(f) is types.FunctionType and not f.__code__.co_filename.startswith("<")
                                   for k in cls.__mro__ if user_class(k)
                                   for f in (vars(k).get("__bool__"), vars(k).get("__len__")))


def odd_array(cls) -> bool:
    """Is ``cls`` a subclass of numpy's ndarray whose operators, indexing or numpy's functions compute
    other values than an ndarray's (``np.matrix``: ``*`` is a matrix product, ``m[0]`` a 1-by-n
    matrix; a masked array)?  Its results are of its class again, so every operation on it is."""
    from .runtime.support import array_subclass_override
    return bool(array_subclass_override(cls))


def odd_class(cls) -> bool:
    """An odd_array, or a class of numpy's own with operators of its own (``np.poly1d``: ``p + c`` adds
    to the constant term only; ``np.polynomial.Polynomial``; runtime/support.py numpy_operator_class)."""
    from .runtime.support import numpy_operator_class
    return odd_array(cls) or numpy_operator_class(cls)


def defines(cls, names) -> bool:
    """Does the user class ``cls`` define (or inherit from a user class) one of ``names``?  An
    odd_class counts as defining every operation (what each computes on it differs)."""
    if odd_class(cls):
        return True
    for klass in cls.__mro__:
        if klass is object or not user_class(klass):
            continue
        if any(n in vars(klass) for n in names):
            return True
    return False


def _kind_classes(kind, top: bool) -> Set:
    """The classes of the objects a kind (``sct.kinds``) describes: the kind's own (``top``) or
    those of its parts (every level below)."""
    out: Set = set()
    if not isinstance(kind, tuple) or not kind:
        return out
    if kind[0] == "const" and len(kind) > 1 and kind[1] in ((object,) if top else (object, dict)):
        return {UNKNOWN}                # an argument not followed (a **kwargs dict, an untraced *args item)
    if top:
        if kind[0] in ("obj", "const") and len(kind) > 1 and user_class(kind[1]):
            out.add(kind[1])
        return out
    if kind[0] in ("seq", "map", "obj") and len(kind) > 2 and isinstance(kind[2], tuple):
        for part in kind[2]:
            child = part[1] if kind[0] in ("map", "obj") and isinstance(part, tuple) and len(part) == 2 \
                else part
            out |= _kind_classes(child, True) | _kind_classes(child, False)
    return out


def _value_classes(value, top: bool, depth: int = 0) -> Set:
    """The same for an object the compiler can see now (a global, a closure value)."""
    if top:
        return {type(value)} if user_class(type(value)) or odd_class(type(value)) else set()
    if depth > 3:
        return {UNKNOWN}
    out: Set = set()
    if isinstance(value, (list, tuple, set, frozenset)):
        items = list(value)[:64]
    elif isinstance(value, dict):
        items = list(value.values())[:64]
    elif user_class(type(value)) and hasattr(value, "__dict__"):
        return {UNKNOWN}               # its fields may change between calls: checked when it runs
    else:
        return out
    for item in items:
        out |= _value_classes(item, True) | _value_classes(item, False, depth + 1)
    return out


class _Origins:
    def __init__(self, act, nodes):
        self.act = act
        self.defs: Dict[str, List] = {}
        for node in nodes:
            if isinstance(node, gast.Assign):
                for target in node.targets:
                    for name in _stored(target):
                        self.defs.setdefault(name, []).append(
                            node.value if isinstance(target, gast.Name) else None)
        from .ir import walk_no_defs, walk_nodes
        self.local_defs: Set[str] = set()       # the functions defined in it
        for node in walk_nodes(act.fdef):
            if isinstance(node, gast.Nonlocal):     # rebound by a nested function (was: not seen)
                for name in node.names:
                    self.defs.setdefault(name, []).append(None)
            if isinstance(node, (gast.FunctionDef, gast.AsyncFunctionDef)) and node is not act.fdef:
                self.local_defs.add(node.name)
        for node in walk_no_defs(act.fdef):
            if isinstance(node, (gast.For, gast.AsyncFor)):        # the items of what it walks
                for name in _stored(node.target):
                    self.defs.setdefault(name, []).append(_Items(node.iter))
        self.params = {a.id for a in act.fdef.args.args + act.fdef.args.kwonlyargs if isinstance(a, gast.Name)}
        for a in (act.fdef.args.vararg, act.fdef.args.kwarg):
            if isinstance(a, gast.Name):
                self.params.add(a.id)
        self.memo: Dict = {}

    def of(self, node, top: bool) -> Set:
        """The user classes the value of ``node`` (``top``) or the objects it holds may have."""
        key = (id(node), top) if not isinstance(node, gast.Name) else (node.id, top)
        if key in self.memo:
            return self.memo[key]
        self.memo[key] = set()            # a cycle adds nothing new
        out = self._of(node, top)
        self.memo[key] = out
        return out

    def _of(self, node, top: bool) -> Set:
        act = self.act
        if isinstance(node, gast.Constant):
            return set()
        if isinstance(node, gast.Name):
            name = node.id
            if name in self.defs or name in self.params:
                out: Set = set()
                if name in self.params:
                    kind = act.kinds.get(name)
                    out |= _kind_classes(kind, top) if kind is not None else {UNKNOWN}
                for value in self.defs.get(name, []):
                    if isinstance(value, _Items):
                        out |= self.of(value.iter, False)
                    else:
                        out |= {UNKNOWN} if value is None else self.of(value, top)
                return out
            value = act.resolver.resolve_name(name)
            if value is Unresolved:
                return {UNKNOWN}
            if value is _MISSING:
                return set()
            return _value_classes(value, top)
        if isinstance(node, (gast.Attribute, gast.Subscript)):
            if isinstance(node, gast.Attribute) and isinstance(node.value, gast.Name) and \
                    isinstance(act.resolver.resolve(node.value), types.ModuleType):
                value = act.resolver.resolve(node)
                return _value_classes(value, top) if value is not None else set()
            if isinstance(node, gast.Attribute) and isinstance(node.value, gast.Name) and \
                    node.value.id not in self.defs and node.value.id not in self.params and \
                    isinstance(act.resolver.resolve(node.value), type):
                # ``Cfg.scale``: a class's attribute, as a module's (was: none, numpy's * taken)
                return _value_classes(_class_attribute(act.resolver.resolve(node.value), node.attr), top)
            if isinstance(node.value, gast.Name) and node.value.id in self.params and \
                    node.value.id not in self.defs:
                kind = act.value_kind(node)
                held = _class_attribute(kind_class(act.kinds.get(node.value.id)), node.attr) \
                    if isinstance(node, gast.Attribute) else _NONE
                if held is not _NONE:
                    # ``self.scale`` of a class attribute (was: none, numpy's * taken): the object met
                    # then may hold its own in place of the class's: checked when it runs
                    return _value_classes(held, top) | {UNKNOWN}
                if kind is not None:
                    return _kind_classes(kind, top)
            # an item or attribute of an np.matrix (``M[0]``, ``M.T``) is one too
            odd = {c for c in self.of(node.value, True) if odd_array(c)} if top else set()
            if isinstance(node, gast.Subscript) and not top:
                return self.of(node.value, False)
            return self.of(node.value, False) | odd
        if isinstance(node, (gast.List, gast.Tuple, gast.Set)):
            if top:
                return set()
            out = set()
            for e in node.elts:
                e = e.value if isinstance(e, gast.Starred) else e
                out |= self.of(e, True) | self.of(e, False)
            return out
        if isinstance(node, gast.Dict):
            if top:
                return set()
            out = set()
            for e in node.values:
                out |= self.of(e, True) | self.of(e, False)
            return out
        if isinstance(node, gast.BinOp):
            if top and type(node.op) in BINARY_DUNDERS and (act.is_active(node.left) or act.is_active(node.right)):
                return set()      # its operands are checked: numpy's operator made it
            # a user operator may return an object of its class; list + list holds both's items
            return self.of(node.left, top) | self.of(node.right, top)
        if isinstance(node, gast.UnaryOp):
            if top and type(node.op) in UNARY_DUNDERS and act.is_active(node.operand):
                return set()
            return self.of(node.operand, top)
        if isinstance(node, gast.IfExp):
            return self.of(node.body, top) | self.of(node.orelse, top)
        if isinstance(node, gast.Call):
            return self._call(node, top)
        return set()

    def _call(self, node: gast.Call, top: bool) -> Set:
        from .plans import CallKind
        act = self.act
        target = act.resolver.resolve(node.func)
        if isinstance(node.func, (gast.Call, gast.Lambda, gast.Subscript)) or \
                isinstance(node.func, gast.Name) and (node.func.id in self.defs or node.func.id in self.local_defs):
            # ``type(obj)(...)``, ``functools.partial(Cls, ..)()``, ``fs[0](x)``, a lambda or a nested
            # function's call (``mk = lambda: Sq(..)``, ``g()`` rebinding a nonlocal): a callee made here, its
            # result not seen (was: none, numpy's * taken): checked when it runs
            return {UNKNOWN}
        if isinstance(node.func, gast.Attribute) and node.func.attr in ("get", "pop", "setdefault", "copy") and \
                isinstance(node.func.value, gast.Name) and not isinstance(target, types.FunctionType):
            # ``d.get("s")`` of a dict holding an object (was: none where the call is a rule's)
            held = self.of(node.func.value, False)
            if top and held:
                return held | self.of(node.func.value, True)
        if target in (copy.copy, copy.deepcopy) and node.args:
            # a copy is of its argument's class (was: none, numpy's * taken for ``copy.copy(v) * 2.0``)
            return self.of(node.args[0], top)
        if isinstance(target, type):
            if odd_class(target):               # np.matrix(A), np.ma.masked_array(...), np.poly1d(c)
                return {target} if top else set()
            if user_class(target):
                return {target} if top else {UNKNOWN}
            if issubclass(target, (list, tuple, dict, set, frozenset)):   # list(xs), dict(d), ...
                if top and not user_class(target):
                    return set()
                return set().union(*[self.of(a, True) | self.of(a, False) for a in node.args]) \
                    if node.args else set()
            return set()
        module = (getattr(target, "__module__", "") or "") if target not in (Unresolved, _MISSING) else ""
        if top and id(target) in _ODD_MAKERS:   # np.asmatrix(A), np.bmat(...), np.ma.masked_where(...)
            return {_ODD_MAKERS[id(target)]}
        if module.split(".")[0] in ("numpy", "sct") or module in ("math", "builtins", "cmath"):
            if module.startswith("sct.runtime") and not module.startswith(("sct.runtime.numpy_ops",
                                                                           "sct.runtime.nn",
                                                                           "sct.runtime.dlfun")):
                if top and getattr(target, "__name__", "") in ("as_sequence", "index_trick"):
                    return set()  # a list (of an object's items, walked by its __iter__); what
                    #               np.ogrid[...] gives (arrays), not np.ogrid
                out = set()       # rt helpers (as_sequence, ...): what they pass on
                for a in node.args:
                    out |= self.of(a, top) | (self.of(a, False) if not top else set())
                return out
            if module == "builtins" and getattr(target, "__name__", "") == "getattr":
                # ``getattr(Cfg, "scale")``: an attribute read (was: of the class object, none)
                return {UNKNOWN} if top else \
                    set().union(*[self.of(a, True) | self.of(a, False) for a in node.args])
            if module == "builtins" and getattr(target, "__name__", "") in (
                    "sorted", "reversed", "list", "tuple", "iter", "next", "max", "min", "enumerate",
                    "zip"):
                out = set()
                for a in node.args:
                    out |= self.of(a, True) | self.of(a, False)
                return out
            return set()
        info = act.call_info(node)
        if info.kind in (CallKind.OP, CallKind.NONDIFF, CallKind.STOP, CallKind.CREATE, CallKind.SITE):
            return set()
        if info.kind == CallKind.METHOD and info.rule is not None and not act.user_receiver(info.receiver):
            # an array's method (``.copy()``, ``.get(k)`` of a dict, ...): of what it is called on;
            # an np.matrix's (``M.dot(x)``, ``M.sum(0)``) gives an np.matrix
            odd = {c for c in self.of(load_name(info.receiver), True) if odd_array(c)} if top else set()
            return self.of(load_name(info.receiver), top) | self.of(load_name(info.receiver), False) \
                if info.method in ("get", "pop", "copy", "values", "items") else odd
        if top and isinstance(target, types.FunctionType):
            built = _classes_returned(target)
            if built:             # a helper returning ``Cls(...)`` of a user class: that class
                return set(built)
        made = getattr(node, "sct_user_operator", None)
        if made is not None:        # an operator compiled as its method's call (sct/user_operators.py)
            return {made} if top else {UNKNOWN}     # (its class where proven, else UNKNOWN)
        if act.value_active(node) and not (top and info.kind in (CallKind.FUNCTION, CallKind.METHOD)):
            return set()          # differentiated where it stands (its result's derivative is followed)
        # (a function or method of the user's may return an object of a user class: checked when it
        # runs; was: none, so `t = make(x); s = make(x ** 2); u = t + s` of a T whose __add__ multiplies
        # was differentiated as numpy's +, a wrong gradient)
        return {UNKNOWN}


_NONE = object()


def kind_class(kind):
    """The class of an object's kind (``("obj", cls, ...)``), else None."""
    return kind[1] if isinstance(kind, tuple) and len(kind) > 1 and kind[0] == "obj" and \
        isinstance(kind[1], type) else None


def _class_attribute(cls, name: str):
    """The value ``cls`` itself holds for ``name`` along its MRO (a class attribute), else _NONE."""
    for klass in getattr(cls, "__mro__", ()):
        if name in vars(klass):
            return vars(klass)[name]
    return _NONE


def _odd_makers() -> Dict[int, type]:
    """numpy's functions that make an odd_array (``np.asmatrix``, ``np.bmat``, ``np.ma.masked_where``,
    ...), by id: its class."""
    made = {id(np.asmatrix): np.matrix, id(np.bmat): np.matrix}
    for name in ("array", "masked_array", "asarray", "asanyarray", "masked_where", "masked_invalid",
                 "masked_equal", "masked_not_equal", "masked_greater", "masked_greater_equal", "masked_less",
                 "masked_less_equal", "masked_inside", "masked_outside", "masked_values", "fix_invalid"):
        f = getattr(np.ma, name, None)
        if f is not None:
            made[id(f)] = np.ma.MaskedArray
    return made


_ODD_MAKERS = _odd_makers()

_RETURNED: Dict[object, tuple] = {}


def _classes_returned(function) -> tuple:
    """The user classes a plain function's ``return Cls(...)`` statements construct (found in its
    source; names looked up in its globals), so an operator on its result is checked against them
    like on a constructor call written in place; () when there are none or the source is unseen."""
    code = function.__code__
    names = function.__globals__
    held = _RETURNED.get(code)
    # (kept with the globals it read, checked on reuse: a class redefined since, a notebook cell run
    # again to give it an __rmul__, is read again; was: the old class, without the operator, so
    # `x * make(2.0)` ran P's new __rmul__ differentiated as numpy's *, a wrong gradient, where the
    # same call first in a fresh process was refused)
    if held is not None and held[1] is names and all(names.get(n, _MISSING) is v for n, v in held[2]):
        return held[0]
    found = ()
    reads = []
    try:
        import inspect
        import textwrap
        tree = gast.parse(textwrap.dedent(inspect.getsource(getattr(function, "__code__", function))))
    except (OSError, TypeError, SyntaxError, IndentationError):
        tree = None
    if tree is not None:
        classes = []
        for n in _own_nodes(tree):
            if isinstance(n, gast.Return) and isinstance(n.value, gast.Call) and \
                    isinstance(n.value.func, gast.Name):
                cls = names.get(n.value.func.id, _MISSING)
                reads.append((n.value.func.id, cls))
                if isinstance(cls, type) and user_class(cls) and cls not in classes:
                    classes.append(cls)
        found = tuple(classes)
    if len(_RETURNED) >= 4096:
        _RETURNED.clear()
    _RETURNED[code] = (found, names, tuple(reads))
    return found


def _own_nodes(tree):
    """The nodes of the function ``tree`` defines, not those of the functions, lambdas and classes
    defined in its body (their ``return Cls(...)`` is not the function's)."""
    nested = (gast.FunctionDef, gast.AsyncFunctionDef, gast.Lambda, gast.ClassDef)
    top = next((n for n in tree.body if isinstance(n, (gast.FunctionDef, gast.AsyncFunctionDef))), None)
    stack = [n for n in top.body if not isinstance(n, nested)] if top is not None else [tree]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(child for child in gast.iter_child_nodes(n) if not isinstance(child, nested))


class _Items:
    """A loop target: one of the items of ``iter``."""
    def __init__(self, iter):
        self.iter = iter


def load_name(name: str) -> gast.Name:
    return gast.Name(id=name, ctx=gast.Load(), annotation=None, type_comment=None)


def _stored(target) -> List[str]:
    if isinstance(target, gast.Name):
        return [target.id]
    if isinstance(target, (gast.Tuple, gast.List)):
        return [n for e in target.elts for n in _stored(e.value if isinstance(e, gast.Starred) else e)]
    return []


def _refuse_unpacking_iterable(act, stmt, operand, origins) -> None:
    """``w, b = params`` (read as ``params[0]``, ``params[1]``) where ``params`` may be an object of
    a user class with ``__iter__`` and no ``__getitem__``: Python unpacks it by iterating it."""
    # only where the object surely is one (an argument of that kind, built here): the origins'
    # other answers may be items of it (list(params) holds its fields), and a wrong one is told
    # when it runs ("not subscriptable")
    classes = set()
    name = operand.id
    if name in origins.params and name not in origins.defs:
        classes |= _kind_classes(act.kinds.get(name), True)
    values = origins.defs.get(name, [])
    if values and all(isinstance(v, gast.Call) for v in values):
        for v in values:
            target = act.resolver.resolve(v.func)
            if isinstance(target, type) and user_class(target):
                classes.add(target)
    for cls in classes:
        if cls is not UNKNOWN and defines(cls, ("__iter__",)) and not defines(cls, ("__getitem__",)):
            line = getattr(stmt, "lineno", None) or getattr(act.fdef, "lineno", 0)
            raise CompileError(
                f"unpacking (or indexing) {operand.id}, which may be an object of {cls.__name__}, walks "
                f"it by its __iter__: sct reads unpacking by position, which {cls.__name__} does not "
                f"define (no __getitem__). Write `a, b = list({operand.id})` (sct differentiates list() "
                f"of an object whose __iter__ gives its fields), or read its fields by name",
                act.filename, line, f"unpacking {cls.__name__}")


def check_operands(act, nodes=None) -> Dict[int, List]:
    """Refuse an operator on an object of a user class defining it where a derivative passes
    through it; ``{id(statement): [(operand name, symbol, dunder names)]}`` to check at run time.
    ``nodes``: the activity's statements (``fixed_point_statements``)."""
    if nodes is None:
        nodes = fixed_point_statements(act.fdef)
    fn = getattr(act.resolver, "fn", None)
    from .runtime import registry
    if getattr(fn, "__sct_generated__", False) or \
            (getattr(fn, "__module__", "") or "").startswith(("sct.runtime.", "sct_generated")) and \
            fn not in registry.EQUIVALENTS.values():
        return {}                 # sct's own code: its operands are arrays (not functools.reduce's
        #                           equivalent, which applies the user's function to the user's items)
    origins = None
    checks: Dict[int, List] = {}
    for stmt in nodes:
        if not isinstance(stmt, gast.Assign):
            continue
        value = stmt.value
        operands = []
        if isinstance(value, gast.BinOp) and type(value.op) in BINARY_DUNDERS:
            symbol, left, right = BINARY_DUNDERS[type(value.op)]
            if act.is_active(value.left) or act.is_active(value.right):
                operands = [(value.left, symbol, (left, right)), (value.right, symbol, (left, right))]
        elif isinstance(value, gast.UnaryOp) and type(value.op) in UNARY_DUNDERS:
            symbol, name = UNARY_DUNDERS[type(value.op)]
            if act.is_active(value.operand):
                operands = [(value.operand, symbol, (name,))]
        elif isinstance(value, gast.Call) and len(value.args) in (1, 2) and not value.keywords and \
                id(act.resolver.resolve(value.func)) in _OPERATOR_FUNCTIONS and \
                any(act.is_active(a) for a in value.args):
            # operator.mul(a, b) is a * b (functools.reduce(operator.mul, ...))
            symbol, *names = _OPERATOR_FUNCTIONS[id(act.resolver.resolve(value.func))]
            operands = [(a, symbol, tuple(names)) for a in (value.args[:1] if symbol == "[]" else value.args)]
        elif isinstance(value, gast.Call) and not value.keywords and \
                _builtin_dunders(act.resolver.resolve(value.func)) is not None and \
                any(act.is_active(a) for a in value.args):
            # float(obj), abs(obj), pow(obj, 2), math.sqrt(obj): the object's __float__/__abs__/__pow__ runs
            # (was: differentiated as the numeric builtin of the object, a wrong gradient or a crash)
            symbol, names = _builtin_dunders(act.resolver.resolve(value.func))
            operands = [(a, symbol, names) for a in value.args]
        elif isinstance(value, gast.Subscript) and any(
                isinstance(n, gast.Name) and n.id in act.active for n in gast.walk(value.slice)):
            operands = [(value.value, "[]", ("__getitem__",))]
        elif isinstance(value, gast.Call) and _numpy_function(act.resolver.resolve(value.func)) and \
                any(act.is_active(a) for a in list(value.args) + [k.value for k in value.keywords]):
            # np.multiply(P, x): numpy dispatches to P's __array_ufunc__/__array_function__, or
            # runs P's __mul__ in an object array; sct would differentiate numpy's multiply
            symbol = _numpy_function(act.resolver.resolve(value.func))
            operands = [(a, symbol, NUMPY_DUNDERS) for a in value.args] + \
                [(k.value, symbol, NUMPY_DUNDERS) for k in value.keywords]
        elif isinstance(value, gast.Call) and isinstance(value.func, gast.Attribute) and \
                isinstance(value.func.value, gast.Name) and act.array_receiver(value.func.value.id) and \
                (act.is_active(value.func.value) or any(act.is_active(a) for a in value.args)):
            # x.dot(P), x.clip(P, ...): an array's method given the object (numpy's function)
            from .plans import CallKind
            info = act.call_info(value)
            if info.kind == CallKind.METHOD and info.rule is not None:
                symbol = f"np.ndarray.{value.func.attr}"
                operands = [(a, symbol, NUMPY_DUNDERS) for a in value.args] + \
                    [(k.value, symbol, NUMPY_DUNDERS) for k in value.keywords]
        elif isinstance(value, gast.Call) and isinstance(value.func, gast.Attribute) and \
                isinstance(value.func.value, gast.Name) and not act.array_receiver(value.func.value.id) and \
                not act.is_active(value.func.value) and \
                any(act.is_active(a) for a in list(value.args) + [k.value for k in value.keywords]):
            # L.dot(x) where L may be a scipy.sparse matrix or an np.matrix (``L = LAP``): its class's
            # own method, not the ndarray method whose rule sct would differentiate it with
            from .plans import CallKind
            info = act.call_info(value)
            if info.kind == CallKind.METHOD and info.rule is not None:
                operands = [(value.func.value, f"np.ndarray.{value.func.attr}", NUMPY_DUNDERS)]
        if isinstance(value, gast.Subscript) and isinstance(value.value, gast.Name) and \
                value.value.id not in act.arrays and act.is_active(value.value):
            if origins is None:
                origins = _Origins(act, nodes)
            _refuse_unpacking_iterable(act, stmt, value.value, origins)
        operands = [o for o in operands if isinstance(o[0], gast.Name)]
        if operands and origins is None:
            origins = _Origins(act, nodes)
        # (an operand every binding of which gives an array or a number: numpy's operator; was: any name
        # one binding made an array (``act.arrays``), so ``s = temp if temp is not None else x[0]; y = s *
        # x`` of a Temperature with __mul__ was differentiated as numpy's *: a zero gradient for temp),
        # while a name that may be one (an array on the other branch) is checked when it runs: the
        # object refused there, the array's product exact (``c.a if isinstance(c, V) else c``)
        merged = {o[0].id for o in operands if o[0].id in act.arrays}
        operands = [o for o in operands if not _surely_array(act, origins, o[0].id)]
        if not operands:
            continue
        for operand, symbol, names in operands:
            try:
                classes = origins.of(operand, True)
                if symbol.startswith("np."):          # a list of objects numpy makes an object array of
                    classes = classes | (origins.of(operand, False) - {UNKNOWN})
            except RecursionError:          # a very long chain of assignments: checked when it runs
                origins.memo.clear()
                classes = {UNKNOWN}
            if operand.id in merged and classes:
                classes = {UNKNOWN}
            if operand.id in _class_tested(act) and any(c is not UNKNOWN and not odd_class(c) and defines(c, names)
                                                        for c in classes):
                # the function tells the classes of its name apart when it runs (``if isinstance(o, Vec2):
                # return ...`` before ``self.a * o``): checked where the statement runs, not refused for a
                # branch the object never takes (was: refused, Vec2's __mul__ for ``v * v``)
                classes = {c for c in classes if c is UNKNOWN or odd_class(c) or not defines(c, names)} | {UNKNOWN}
            for cls in classes:
                if cls is not UNKNOWN and odd_class(cls):
                    line = getattr(stmt, "lineno", None) or getattr(act.fdef, "lineno", 0)
                    raise CompileError(odd_array_message(cls, symbol), act.filename, line, f"{symbol} on {cls.__name__}")
                if cls is not UNKNOWN and defines(cls, names):
                    line = getattr(stmt, "lineno", None) or getattr(act.fdef, "lineno", 0)
                    found = [n for n in names if defines(cls, (n,))]
                    from .runtime.support import sparse_class, sparse_refusal
                    if sparse_class(cls):
                        raise CompileError(sparse_refusal(cls, symbol), act.filename, line,
                                           f"{symbol} on {cls.__name__}")
                    if symbol.startswith("np."):
                        raise CompileError(
                            f"an argument of {symbol} here may be an object of {cls.__name__}, whose "
                            f"{'/'.join(found)} numpy runs for it (dispatching to it, or on the items "
                            f"of an object array); sct would differentiate it as {symbol} of "
                            f"arrays, not as {cls.__name__}'s code. Pass arrays to {symbol}, or call a "
                            f"method of the object instead ({cls.__name__}.{found[0]}(obj, ...) or one "
                            f"of your own), which sct differentiates",
                            act.filename, line, f"{symbol} on {cls.__name__}")
                    raise CompileError(
                        f"an operand of {operation_words(symbol)} here may be an object of {cls.__name__}, whose "
                        f"{'/'.join(found)} runs for it; sct would "
                        f"differentiate it as " + (f"{symbol} of a number" if symbol.endswith(")") else
                                                     f"numpy's {symbol}") + f", not as {cls.__name__}'s code. Call a "
                        f"method of it instead ({cls.__name__}.{names[0]}(obj, ...) or one of your "
                        f"own), which sct differentiates",
                        act.filename, line, f"{symbol} on {cls.__name__}")
            if UNKNOWN in classes:
                checks.setdefault(id(stmt), []).append((operand.id, symbol, names))
    return checks


def _class_tested(act) -> Set[str]:
    """The names whose class the function tests (``isinstance(o, C)``, ``type(o) is C``), once per
    activity."""
    tested = getattr(act, "_sct_class_tested", None)
    if tested is None:
        from .ir import walk_nodes
        tested = set()
        for n in walk_nodes(act.fdef):
            if isinstance(n, gast.Call) and n.args and isinstance(n.args[0], gast.Name) and \
                    act.resolver.resolve(n.func) in (isinstance, type):
                tested.add(n.args[0].id)
        act._sct_class_tested = tested
    return tested


def _surely_array(act, origins, name: str, seen=None) -> bool:
    """Does every binding of ``name`` give an array or a number (an argument of an array's kind, an
    array's operation, another such name)?  ``act.arrays`` holds a name where one binding does."""
    from .kinds import leaf_kind
    if name not in act.arrays:
        return False
    seen = set() if seen is None else seen
    if name in seen:
        return True                 # (a cycle of names: the other bindings decide)
    seen.add(name)
    if name in origins.params and leaf_kind(act.kinds.get(name)) is None:
        return False
    for value in origins.defs.get(name, []):
        if value is None or isinstance(value, _Items):
            return False
        if isinstance(value, gast.Name) and value.id in act.arrays:
            if not _surely_array(act, origins, value.id, seen):
                return False
        elif not act.value_is_array(value):
            return False
    return True


_BUILTIN_DUNDERS = {"float": ("__float__", "__index__"), "int": ("__int__", "__index__", "__trunc__"),
                    "complex": ("__complex__", "__float__", "__index__"), "abs": ("__abs__",),
                    "pow": ("__pow__", "__rpow__"), "round": ("__round__",)}
_MATH_DUNDERS = ("__float__", "__index__", "__floor__", "__ceil__", "__trunc__")


def _builtin_dunders(target):
    """``(symbol, the dunders it runs of its argument's class)`` for builtin float/int/complex/abs/pow/round
    and the math module's functions, else None."""
    import builtins
    import math
    name = getattr(target, "__name__", None)
    if isinstance(name, str) and getattr(builtins, name, None) is target and name in _BUILTIN_DUNDERS:
        return f"{name}()", _BUILTIN_DUNDERS[name]
    if isinstance(name, str) and getattr(math, name, None) is target and callable(target):
        return f"math.{name}()", _MATH_DUNDERS
    return None


def odd_array_message(cls, symbol: str) -> str:
    """Why an operation on an odd_array (np.matrix, a masked array) is refused, and what to write."""
    from .runtime.support import array_subclass_refusal, numpy_operator_refusal
    if not odd_array(cls):
        return numpy_operator_refusal(cls, symbol).replace(" is given ", " here is given ", 1)
    return array_subclass_refusal(cls, symbol, " here")
