"""Options of dlgradient / dljacobian / dldivergence / dllaplacian, fixed when compiling.

Before any analysis each site call is rewritten to one canonical form: its
options as keywords with literal values (``EnableHigherDerivatives=True``...)
and the ``dim`` of dljacobian/dldivergence/dllaplacian as a literal integer.

* MATLAB's name-value pairs, ``dlgradient(y, x, "RetainData", true)``, become
  keywords; names are case-insensitive as in MATLAB (snake_case too).  A string
  where an ``x`` is expected that is not an option name is refused: an option
  name is never taken for a variable.
* An option or ``dim`` may be anything the compiler can fix at compile time: a
  literal, a module constant, a closure value, a parameter's default value (when
  the argument is not passed), a local assigned a constant once before the call,
  or arithmetic on those.  Globals and closure values are guarded like every
  global the code reads (a change recompiles); a value that changes from call
  to call (an argument, a value computed from data) is refused.
"""
from __future__ import annotations

import operator
from typing import Dict, List, Optional

import gast
import numpy as np

from .analysis import Guard, Unresolved, _MISSING
from .errors import CompileError
from .ir import child_nodes
from .hooks import API

OPTIONS = {"dlgradient": ("RetainData", "EnableHigherDerivatives", "AllowComplex"),
           "dljacobian": ("EnableHigherDerivatives",),
           "dldivergence": ("EnableHigherDerivatives",),
           "dllaplacian": ("EnableHigherDerivatives",)}
_CANONICAL = {n.lower(): n for names in OPTIONS.values() for n in names}
_CANONICAL.update({"retain_data": "RetainData", "enable_higher_derivatives": "EnableHigherDerivatives",
                   "allow_complex": "AllowComplex"})

_OPS = {gast.Add: operator.add, gast.Sub: operator.sub, gast.Mult: operator.mul,
        gast.FloorDiv: operator.floordiv, gast.Mod: operator.mod, gast.USub: operator.neg,
        gast.UAdd: operator.pos, gast.Not: operator.not_}


class _Lookup:
    """A guard's namespace for a value that is not a global or a closure cell
    (a parameter's default, an attribute of a module or class): ``Guard.holds``
    reads ``cell_contents``."""

    def __init__(self, get):
        self._get = get

    @property
    def cell_contents(self):
        try:
            return self._get()
        except Exception:
            raise ValueError("gone") from None


class _NotConstant(Exception):
    def __init__(self, why: str):
        self.why = why


class SiteOptions:
    def __init__(self, fn, fdef, resolver, filename: str, given: Optional[int]):
        self.fn = fn
        self.fdef = fdef
        self.resolver = resolver
        self.filename = filename
        self.params = [a.id for a in fdef.args.args]
        self.given = len(self.params) if given is None else given
        self.stores: Dict[str, List] = {}
        for st in fdef.body:
            for n in _walk_no_defs(st):
                if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store):
                    self.stores.setdefault(n.id, []).append(st)
        for a in fdef.args.args + fdef.args.kwonlyargs:
            self.stores.setdefault(a.id, [])
        self.top_index = 0
        self.line: Optional[int] = None     # the line of the call being read (for errors)

    def fail(self, node, message: str, construct: str):
        line = getattr(node, "lineno", None) or self.line or self.fdef.lineno
        raise CompileError(message, self.filename, line, construct)

    # --- values fixed at compile time -------------------------------------------------------
    def value(self, node):
        if isinstance(node, gast.Constant):
            return node.value
        if isinstance(node, gast.UnaryOp) and type(node.op) in _OPS:
            return _OPS[type(node.op)](self.value(node.operand))
        if isinstance(node, gast.BinOp) and type(node.op) in _OPS:
            return _OPS[type(node.op)](self.value(node.left), self.value(node.right))
        if isinstance(node, gast.Name):
            return self.name_value(node.id)
        if isinstance(node, gast.Attribute):
            base = self.value(node.value)
            try:
                value = getattr(base, node.attr)
            except AttributeError:
                raise _NotConstant(f"{node.attr!r} is not an attribute of {base!r}") from None
            self.guard(f"{node.attr}", lambda: getattr(base, node.attr), value)
            return value
        raise _NotConstant("it is an expression evaluated when the function runs")

    def guard(self, what: str, get, value) -> None:
        key = f"__sct_option_{len(self.resolver.guards)}_{what}".replace(".", "_")
        self.resolver.guards[key] = Guard(_Lookup(get), key, value)

    def name_value(self, name: str):
        if name in self.stores:                 # a local or a parameter
            if name in self.params:
                i = self.params.index(name)
                defaults = self.fn.__defaults__ or ()
                first_default = len(self.params) - len(defaults)
                if i >= self.given and i >= first_default and not self.stores[name]:
                    value = defaults[i - first_default]
                    fn = self.fn
                    self.guard(f"default_{name}", lambda: fn.__defaults__, fn.__defaults__)
                    return value
                raise _NotConstant(f"{name!r} is an argument of {self.fdef.name}(): its value can "
                                   "change from call to call")
            stores = self.stores[name]
            code = getattr(self.fn, "__code__", None)
            if code is not None and name not in code.co_varnames:
                # a name sct introduced for an expression the user wrote in the call: name that
                # expression, not the name (the user never wrote it)
                made = [n for st in stores for n in _walk_no_defs(st) if isinstance(n, gast.Assign) and
                        len(n.targets) == 1 and isinstance(n.targets[0], gast.Name) and n.targets[0].id == name]
                if len(made) == 1:
                    try:
                        return self.local_value(name, stores)
                    except _NotConstant:
                        from .emit import expr_source
                        raise _NotConstant(f"the expression `{expr_source(made[0].value)}` is computed "
                                           "when the function runs") from None
            return self.local_value(name, stores)
        value = self.resolver.resolve_name(name)     # a global or closure value: guarded
        if value is Unresolved or value is _MISSING:
            raise _NotConstant(f"{name!r} is not defined when the function is compiled")
        return value

    def local_value(self, name: str, stores: List):
        """The value of a local assigned a constant once, before the call, in the body."""
        if len(stores) != 1 or not isinstance(stores[0], gast.Assign) or \
                len(stores[0].targets) != 1 or not isinstance(stores[0].targets[0], gast.Name) or \
                stores[0] not in self.fdef.body[:self.top_index]:
            raise _NotConstant(f"the local {name!r} is not assigned a constant once, before the "
                               "call, in the function's body")
        try:
            return self.value(stores[0].value)
        except _NotConstant:
            raise _NotConstant(f"the local {name!r} is assigned a value computed when the "
                               f"function runs (line {getattr(stores[0], 'lineno', '?')})") from None

    # --- the sites ---------------------------------------------------------------------------
    def run(self) -> None:
        for index, st in enumerate(self.fdef.body):
            self.top_index = index
            for node, line in _walk_lines(st, getattr(st, "lineno", None)):
                if isinstance(node, gast.Call):
                    target = self.resolver.resolve(node.func)
                    if any(isinstance(a, gast.Starred) for a in node.args):
                        self.line = line
                        self.starred_op(node, target)
                    if target is API.dlfeval:
                        self.nested_dlfeval(node)
                    elif target in API.SITE_FUNCTIONS:
                        self.line = line
                        self.canonical(node, target.__name__)

    def starred_op(self, node: gast.Call, target) -> None:
        """``np.multiply(*args)``: an op's rule needs each argument where it is written."""
        from .runtime import registry
        if target is not Unresolved and target is not _MISSING:
            target = registry.readable(target)     # math.hypot(*xs): its Python equivalent takes them
        rule = registry.lookup(target) if target is not Unresolved and target is not _MISSING else None
        if rule is None:
            return
        try:
            rule.signature.bind(*node.args, **{k.arg: k.value for k in node.keywords if k.arg})
        except TypeError:
            from .emit import expr_source
            name = expr_source(node.func)
            self.fail(node, f"{name}(*...): sct must see each argument of {name} to apply its derivative "
                      f"rule, and *args hides them; write them out, e.g. {name}(args[0], args[1])",
                      "starred argument")

    def nested_dlfeval(self, node: gast.Call) -> None:
        """``dlfeval(g, *args)`` inside differentiated code is ``g(*args)``: g's own
        dlgradient calls become part of this function's derivatives (MATLAB nests them so)."""
        if not node.args or isinstance(node.args[0], gast.Starred):
            self.fail(node, "dlfeval(fun, x1, ..., xk): the function to evaluate comes first", "dlfeval")
        node.func = node.args[0]
        node.args = node.args[1:]

    def canonical(self, node: gast.Call, kind: str) -> None:
        args = list(node.args)
        start = self.option_start(node, kind, args)
        keywords = []
        if start is not None:
            if start == 1:
                self.fail(node, "dlgradient(y, x1, ..., xk, Name, Value): an option name comes "
                          "after the xs", kind)
            keywords = self.name_value_options(node, kind, args[start:])
            args = args[:start]
        keywords += self.keyword_options(node, kind)
        canonical = self.fixed_options(node, kind, keywords)
        if kind != "dlgradient":
            self.fix_dim(node, kind, args)
        node.args = args
        node.keywords = canonical

    def option_start(self, node: gast.Call, kind: str, args: List) -> Optional[int]:
        """The position of the first option name among the arguments (None: no name-value pairs)."""
        fixed = 1 if kind == "dlgradient" else 3      # y | u, x, dim
        for i in range(fixed, len(args)):
            a = args[i]
            if isinstance(a, gast.Starred):
                if kind != "dlgradient":
                    self.fail(node, f"{kind} does not take *arguments: {kind}(u, x, dim)", kind)
                continue
            if self.is_string(a):
                return i
            if kind != "dlgradient":
                self.fail(node, f"{kind} takes (u, x, dim) and then name-value options, e.g. "
                          f"{kind}(u, x, 0, \"EnableHigherDerivatives\", False)", kind)
        return None

    def name_value_options(self, node: gast.Call, kind: str, pairs: List) -> List:
        """MATLAB's ``Name, Value, ...`` pairs as keywords with the canonical names."""
        keywords = []
        for j in range(0, len(pairs), 2):
            name_node = pairs[j]
            name = self.string(name_node)
            if name is None:
                self.fail(node, f"{kind}: after the first option name only name-value pairs may "
                          "follow", kind)
            key = _CANONICAL.get(name.lower())
            if key is None or key not in OPTIONS[kind]:
                what = "no option" if key is None else "no such option for " + kind
                self.fail(node, f"{kind} has {what} {name!r}: the options are "
                          f"{', '.join(OPTIONS[kind])} (a string is never an x)", kind)
            if j + 1 >= len(pairs):
                self.fail(node, f"{kind}: the option {name!r} has no value: write "
                          f"{kind}(..., {name!r}, True)", kind)
            keywords.append(gast.keyword(arg=key, value=pairs[j + 1]))
        return keywords

    def keyword_options(self, node: gast.Call, kind: str) -> List:
        """The call's keywords with the canonical option names."""
        keywords = []
        for k in node.keywords:
            if k.arg is None:
                self.fail(node, f"{kind}: options cannot be passed with **; name them", kind)
            key = _CANONICAL.get(k.arg) if k.arg not in OPTIONS[kind] else k.arg
            if key is None or key not in OPTIONS[kind]:
                self.fail(node, f"{kind} has no option {k.arg!r}; the options are "
                          f"{', '.join(OPTIONS[kind])}", kind)
            keywords.append(gast.keyword(arg=key, value=k.value))
        return keywords

    def fixed_options(self, node: gast.Call, kind: str, keywords: List) -> List:
        """Each option once, its value fixed at compile time as a literal bool."""
        seen = set()
        canonical = []
        for k in keywords:
            if k.arg in seen:
                self.fail(node, f"{kind}: the option {k.arg} is given twice", kind)
            seen.add(k.arg)
            try:
                value = self.value(k.value)
            except _NotConstant as exc:
                self.fail(node, f"the {kind} option {k.arg} must be fixed when the function is compiled "
                          f"(a literal, a module constant, a closure or default value, or a local "
                          f"assigned a constant), but {exc.why}", kind)
            # (numpy's bool and ints too: was tested by the class name "bool_", numpy 2's is "bool",
            # so EnableHigherDerivatives=np.True_ was refused, red54c R1)
            if not isinstance(value, (bool, int, np.bool_, np.integer)):
                self.fail(node, f"the {kind} option {k.arg} must be True or False, not {value!r}", kind)
            canonical.append(gast.keyword(arg=k.arg, value=gast.Constant(value=bool(value), kind=None)))
        return canonical

    def fix_dim(self, node: gast.Call, kind: str, args: List) -> None:
        """``dim`` of dljacobian/dldivergence/dllaplacian (``args[2]``) as a literal integer."""
        if len(args) != 3:
            self.fail(node, f"{kind} takes (u, x, dim): dim is the batch axis of u and x", kind)
        try:
            dim = self.value(args[2])
        except _NotConstant as exc:
            self.fail(node, f"{kind}: dim must be fixed when the function is compiled (a literal, a "
                      f"module constant, a closure or default value, or a local assigned a "
                      f"constant), but {exc.why}", kind)
        import numbers
        if isinstance(dim, bool) or not isinstance(dim, numbers.Integral):
            self.fail(node, f"{kind}: dim must be an integer (the batch axis), not {dim!r}", kind)
        args[2] = gast.Constant(value=int(dim), kind=None)
        gast.copy_location(args[2], node)

    def is_string(self, node) -> bool:
        return self.string(node) is not None

    def string(self, node) -> Optional[str]:
        if isinstance(node, gast.Constant):
            return node.value if isinstance(node.value, str) else None
        if isinstance(node, (gast.Name, gast.Attribute)):
            try:
                value = self.value(node)
            except _NotConstant:
                return None
            return value if isinstance(value, str) else None
        return None


def _walk_no_defs(node):
    todo = [node]
    while todo:
        n = todo.pop()
        yield n
        if isinstance(n, (gast.FunctionDef, gast.AsyncFunctionDef, gast.Lambda, gast.ClassDef)) and n is not node:
            continue
        todo.extend(child_nodes(n))        # (no context or operator leaf: no caller looks for one)


def _walk_lines(node, line):
    """The nodes of ``node`` (not inside nested defs) with the line of the nearest statement."""
    todo = [(node, line)]
    while todo:
        n, line = todo.pop()
        line = getattr(n, "lineno", None) or line
        yield n, line
        if isinstance(n, (gast.FunctionDef, gast.AsyncFunctionDef, gast.Lambda, gast.ClassDef)) and n is not node:
            continue
        todo.extend((c, line) for c in child_nodes(n))     # (the leaves have no line and no call)


def canonicalize_sites(fn, fdef, resolver, filename: str, given: Optional[int] = None) -> None:
    """Rewrite every site call of ``fdef`` to its canonical form (see the module's doc).

    ``given``: how many positional arguments the caller passes (the others take
    their defaults, which are then fixed values).
    """
    SiteOptions(fn, fdef, resolver, filename, given).run()
