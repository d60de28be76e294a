"""Pass 2: resolve names, find what depends on the traced inputs, rename.

* ``Resolver`` finds what each global or closure name refers to when the
  function is compiled, and records a guard so a redefinition recompiles.
* ``classify_call`` says what a call is: a ``dlgradient`` site, an op with a
  rule, an op without derivative, a function to transform, or unknown.
* ``Activity`` is the forward dependence on the traced inputs ("active"
  values), and whether a value may be complex (the proof: sct/realness.py;
  what an argument's kind says: sct/kinds.py).
* ``functionalize`` turns writes into active arrays and lists into
  assignments of new values, and ``rename_straight_line`` gives each
  top-level reassignment a new name, so the values earlier adjoints need stay
  available without being recorded.
"""
from __future__ import annotations

import builtins
import dis
import functools
import inspect
import numbers
import operator
import types
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Set

import gast
import numpy as np

from .runtime import registry
from .runtime import numpy_ops as rt_numpy_ops
from .runtime import support as rt_support
from .runtime.origins import module_top
from .runtime.effects import class_read_runs_code

from .callables import WrappedFunction
from .errors import CompileError
from .hooks import API
from .ir import assign, call, child_nodes, load, loaded_names
from .plans import CallKind

from .cache import _MISSING     # (one sentinel: a guard on a missing attribute holds while it stays missing)
from .cache import Guard, Unresolved
from .kinds import _sct_or_numpy_class, child_kind, kind_complex, kind_traced, leaf_kind, object_array_field
from .realness import RealnessProof, _makes_complex, mean_keyword


class Resolver:
    def __init__(self, fn, local_names: Set[str], known: Optional[Dict[str, Any]] = None):
        self.fn = fn
        self.known = dict(known or {})
        self.locals = local_names
        code = fn.__code__
        self.cells = dict(zip(code.co_freevars, fn.__closure__ or ()))
        self.globals = fn.__globals__
        self.guards: Dict[str, Guard] = {}
        self.attribute_guards: Dict[Any, tuple] = {}    # (id(base), attr) -> (base, attr, value)
        self.aliases: Dict[str, Any] = {}   # locals bound once to a module (``xp = np``)
        self.made: Dict[str, Any] = {}      # names the compiler made and bound (rt.generator_items(gen))
        # (id(base), attr) -> (base, attr, value, line): functions called as ``base.attr(...)``, chosen
        # when the code is compiled (their rules, their compiled code): sct/global_writes.py refuses
        # code that rebinds one during the call, and call_tree checks them after a run of user code
        self.call_targets: Dict[Any, tuple] = {}

    def resolve_name(self, name: str):
        if name in self.aliases:
            return self.aliases[name]
        if name in self.made:
            return self.made[name]
        if name in self.locals:
            return Unresolved
        if name in self.known:
            return self.known[name]
        if name in self.guards:
            return self.guards[name].value
        if name in self.cells:
            cell = self.cells[name]
            try:
                value = cell.cell_contents
            except ValueError:
                return Unresolved
            self.guards[name] = Guard(cell, name, value)
            return value
        if name in self.globals:
            value = self.globals[name]
            self.guards[name] = Guard(self.globals, name, value)
            return value
        bdict = builtins.__dict__
        if name in bdict:
            value = bdict[name]
            self.guards[name] = Guard(bdict, name, value)
            return value
        if name in self._global_reads():
            # a global the code reads that is defined nowhere yet (the code raises NameError):
            # guarded as absent, so that the code is compiled anew once a notebook cell defines it
            self.guards[name] = Guard(self.globals, name, _MISSING)
        return _MISSING

    def _global_reads(self) -> frozenset:
        """The names ``fn``'s code (nested code included) reads as globals."""
        reads = self.__dict__.get("_reads")
        if reads is None:
            found, todo = set(), [self.fn.__code__]
            while todo:
                code = todo.pop()
                found.update(i.argval for i in dis.get_instructions(code) if i.opname in ("LOAD_GLOBAL", "LOAD_NAME"))
                todo.extend(c for c in code.co_consts if isinstance(c, types.CodeType))
            reads = self._reads = frozenset(found)
        return reads

    def attribute(self, base, attr: str):
        """``base.attr`` now, guarded (``helpers.act = np.cos`` later recompiles)."""
        value = getattr(base, attr, _MISSING)
        # a function's keyword-only defaults are a dict changed in place (f.__kwdefaults__['b'] = 3.0):
        # guarded by its contents then
        held = dict(value) if attr == "__kwdefaults__" and type(value) is dict else value
        self.attribute_guards.setdefault((id(base), attr), (base, attr, held))
        return value

    def resolve(self, node):
        """The object an expression of names and attributes refers to, or Unresolved."""
        if isinstance(node, gast.Name):
            return self.resolve_name(node.id)
        if isinstance(node, gast.Attribute):
            base = self.resolve(node.value)
            if base is Unresolved or base is _MISSING:
                return base
            if isinstance(base, (types.ModuleType, type, types.SimpleNamespace)):
                if class_read_runs_code(base, node.attr):
                    return Unresolved       # (``H.lr`` of a metaclass's property: read where the code runs, once)
                return self.attribute(base, node.attr)
            if self._method_with_rule(base, node.attr):
                return self.attribute(base, node.attr)      # scipy.stats.norm.logpdf: an op
            return Unresolved
        return Unresolved

    def object_of(self, node):
        """``resolve(node)``, or None where it names nothing known here (Unresolved, a missing global,
        a name whose resolution raises): the question the checks after the activity analysis ask of a
        call's function (sct/text_checks.py, sct/key_checks.py, sct/io_checks.py)."""
        try:
            found = self.resolve(node)
        except Exception:
            return None
        return None if found is Unresolved or found is _MISSING else found

    @staticmethod
    def _method_with_rule(base, attr: str) -> bool:
        """Whether ``base.attr`` is a method of ``base``'s class with a registered rule (a bound method
        registered as an op: ``scipy.stats.norm.logpdf``), found without running the object's code."""
        import inspect
        try:
            static = inspect.getattr_static(base, attr, None)
        except Exception:
            return False
        return isinstance(static, types.FunctionType) and \
            registry.lookup(types.MethodType(static, base)) is not None


@dataclass
class CallInfo:
    kind: CallKind
    obj: Any = None
    rule: Optional[registry.Rule] = None
    receiver: Optional[str] = None     # the local whose method is called
    method: Optional[str] = None


def classify_call(node: gast.Call, resolver: Resolver) -> CallInfo:
    from .runtime.dlarray import dlarray, extractdata
    func = node.func
    target = resolver.resolve(func)
    if isinstance(func, gast.Attribute) and target is not Unresolved and target is not _MISSING:
        base = resolver.resolve(func.value)
        resolver.call_targets.setdefault((id(base), func.attr),
                                         (base, func.attr, target, getattr(node, "lineno", None)))
    if target is Unresolved:
        if isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name):
            name = func.attr
            if name in registry.METHODS and _binds_as_method(registry.lookup(registry.METHODS[name]), node):
                op = registry.METHODS[name]
                return CallInfo(CallKind.METHOD, obj=op, rule=registry.lookup(op),
                                receiver=func.value.id, method=name)
            # not an array's method where the call cannot be one (``xp.squeeze(a, axis=0)`` of a
            # namespace ``xp``): the receiver's own attribute, found when it runs
            return CallInfo(CallKind.METHOD, receiver=func.value.id, method=name)
        return CallInfo(CallKind.FUNCTION, obj=None)
    if target is _MISSING:
        return CallInfo(CallKind.PLAIN)
    if isinstance(target, WrappedFunction):
        target = target.fn               # inside differentiated code it is its function
        if isinstance(target, staticmethod):     # @sct.accelerate over @staticmethod, read from the class
            target = target.__func__
    elif isinstance(target, types.MethodType) and isinstance(target.__func__, WrappedFunction):
        inner = target.__func__.fn       # @sct.accelerate over @classmethod (or a method), bound
        inner = inner.__func__ if isinstance(inner, (staticmethod, classmethod)) else inner
        target = types.MethodType(inner, target.__self__)
    target = registry.readable(target)   # functools.reduce: its Python equivalent
    if target in API.SITE_FUNCTIONS:
        return CallInfo(CallKind.SITE, obj=target)
    if target is extractdata or target is rt_support.stop_gradient:
        return CallInfo(CallKind.STOP, obj=target)
    if target in (rt_support.primal_call, rt_support.primal_method, rt_support.primal_call_at,
                  rt_support.primal_method_at):
        # only the code dlfeval runs calls these, and it is never differentiated again
        raise CompileError("internal error: code with rt.primal_call is being differentiated; "
                           "please report this with the function's source", None, None, "rt.primal_call")
    if target is dlarray:           # the rule: dlarray(x) of a traced x (a traced copy, as MATLAB's)
        return CallInfo(CallKind.CREATE, obj=target, rule=registry.lookup(rt_support.dlarray_of))
    rule = registry.lookup(target)
    if rule is not None:
        return CallInfo(CallKind.OP, obj=target, rule=rule)
    if registry.is_nondifferentiable(target) or \
            (isinstance(target, types.BuiltinMethodType) and isinstance(getattr(target, "__self__", None), str)):
        return CallInfo(CallKind.NONDIFF, obj=target)      # (a str's method: "{:.3f}".format, text)
    if registry.is_run_as_is(target):
        return CallInfo(CallKind.PLAIN, obj=target)         # adamupdate: run, never differentiated
    if isinstance(target, types.FunctionType) or isinstance(target, types.MethodType):
        return CallInfo(CallKind.FUNCTION, obj=target)
    if isinstance(target, type) and isinstance(getattr(target, "__init__", None), types.FunctionType):
        return CallInfo(CallKind.FUNCTION, obj=target)     # a user class: its __init__ is transformed
    if isinstance(target, type) and issubclass(target, tuple) and hasattr(target, "_fields"):
        return CallInfo(CallKind.FUNCTION, obj=target)     # a namedtuple: built from its fields
    if isinstance(target, type) and target.__init__ is object.__init__ and \
            target.__new__ is object.__new__ and module_top(target) != "builtins":
        return CallInfo(CallKind.NONDIFF, obj=target)      # a user class without __init__: an empty object
    if isinstance(getattr(type(target), "__call__", None), types.FunctionType):
        return CallInfo(CallKind.FUNCTION, obj=target)     # an object of a user class: its __call__
    if type(target) is functools.partial and isinstance(registry.readable(target.func), types.FunctionType):
        # a partial of a Python function made outside the function (a module global, a closure:
        # ``marginal_likelihood = partial(gp, compute_marginal_likelihood=True)``): called as a
        # partial passed in as an argument is, its function read when it runs with the frozen values
        # constant (rt.vjp's _partial_pair; was refused as a call with no rule)
        return CallInfo(CallKind.FUNCTION, obj=None)
    return CallInfo(CallKind.PLAIN, obj=target)


def starred_unbound(node: gast.Call, is_active) -> bool:
    """Does a traced value reach ``node`` (a call of an op) through ``*parts`` or ``**options``, or
    by position after a ``*parts``?  Which parameter it binds to is then known only when the call
    runs (a starred argument bound as one positional one read np.where(*[m, a, t]) as inactive).
    Inactive starred items are harmless: the arguments before them bind by position as written."""
    starred = False
    for a in node.args:
        if isinstance(a, gast.Starred):
            starred = True
            if is_active(a.value):
                return True
        elif starred and is_active(a):
            return True
    return any(k.arg is None and is_active(k.value) for k in node.keywords)


def starred_op_refusal(name: str) -> str:
    """The refusal of an op's call with ``*parts`` or ``**options`` where a traced value may reach
    it: which parameter each item binds to is known only when the call runs."""
    return (f"sct does not differentiate a call to {name} with *args or **kwargs (which parameter each "
            f"item reaches is known only when it runs): pass the arguments one by one "
            f"({name}(a, b, ...))")


def _binds_as_method(rule, node: gast.Call) -> bool:
    """Can ``r.name(...)`` be the array method ``name`` (its rule's signature binds the receiver and
    the call's arguments)?  True where the call's arguments cannot be counted (``*a``, ``**k``)."""
    if rule is None or any(isinstance(a, gast.Starred) for a in node.args) or \
            any(k.arg is None for k in node.keywords):
        return True
    keywords = tuple(k.arg for k in node.keywords)
    if len(set(keywords)) == len(keywords):         # (the receiver is one more position)
        return _bind_plan(rule.signature, len(node.args) + 1, keywords) is not None
    try:
        rule.signature.bind(None, *node.args, **{k.arg: k.value for k in node.keywords})
    except TypeError:
        return False
    return True


class _Slot:
    """A stand-in argument for ``_bind_plan``: the position or keyword a bound value came from."""
    __slots__ = ("where",)

    def __init__(self, where):
        self.where = where


_BIND_PLANS: Dict[int, tuple] = {}


def _bind_plan(sig: inspect.Signature, count: int, keywords: tuple):
    """How ``sig.bind`` maps ``count`` positional arguments and these keywords onto parameters
    (binding depends on nothing else): per parameter in order, (name, how, what) -- "arg" (a
    position or keyword), "tuple" (the positions a ``*args`` takes), "dict" (the keywords a
    ``**kwargs`` takes), "empty tuple", "empty dict", "default" (its value) -- or None where the
    call does not match (the caller binds it again, to say why).  Found once per signature and
    shape of call (a rule is bound at every call of its op, by several passes)."""
    hit = _BIND_PLANS.get(id(sig))
    if hit is None or hit[0] is not sig:
        if len(_BIND_PLANS) > 4096:
            _BIND_PLANS.clear()
        hit = _BIND_PLANS[id(sig)] = (sig, {})
    key = (count, keywords)
    if key in hit[1]:
        return hit[1][key]
    try:
        bound = sig.bind(*[_Slot(i) for i in range(count)], **{k: _Slot(k) for k in keywords})
    except TypeError:
        plan = None
    else:
        plan = []
        for name, param in sig.parameters.items():
            if name in bound.arguments:
                value = bound.arguments[name]
                if param.kind == inspect.Parameter.VAR_POSITIONAL:
                    plan.append((name, "tuple", tuple(v.where for v in value)))
                elif param.kind == inspect.Parameter.VAR_KEYWORD:
                    plan.append((name, "dict", tuple(value)))
                else:
                    plan.append((name, "arg", value.where))
            elif param.kind == inspect.Parameter.VAR_POSITIONAL:
                plan.append((name, "empty tuple", None))
            elif param.kind == inspect.Parameter.VAR_KEYWORD:
                plan.append((name, "empty dict", None))
            elif param.default is not inspect.Parameter.empty:
                plan.append((name, "default", param.default))
        plan = tuple(plan)
    hit[1][key] = plan
    return plan


def bind_arguments(rule: registry.Rule, node: gast.Call, filename: str, line: int) -> Dict[str, Any]:
    """Map the call's argument nodes onto the rule's parameter names (with defaults)."""
    sig = rule.signature
    keywords = tuple(k.arg for k in node.keywords)
    if None not in keywords and len(set(keywords)) == len(keywords):
        plan = _bind_plan(sig, len(node.args), keywords)
        if plan is not None:        # (new nodes for defaults and *args each time, as below)
            args, by_keyword = node.args, {k.arg: k.value for k in node.keywords}
            result: Dict[str, Any] = {}
            for name, how, what in plan:
                if how == "arg":
                    result[name] = args[what] if what.__class__ is int else by_keyword[what]
                elif how == "tuple":
                    result[name] = gast.Tuple(elts=[args[i] for i in what], ctx=gast.Load())
                elif how == "dict":
                    result[name] = {k: by_keyword[k] for k in what}
                elif how == "empty tuple":
                    result[name] = gast.Tuple(elts=[], ctx=gast.Load())
                elif how == "empty dict":
                    result[name] = gast.Dict(keys=[], values=[])
                else:
                    result[name] = _default_node(what)
            return result
    try:
        bound = sig.bind(*node.args, **{k.arg: k.value for k in node.keywords})
    except TypeError as exc:
        func = node.func
        hint = ""
        if isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name) and node.args and \
                isinstance(node.args[0], gast.Name) and node.args[0].id == func.value.id:
            recv = func.value.id        # a method call, the receiver bound first (xp.squeeze(a, axis=0))
            hint = (f" (`{recv}.{func.attr}(...)` is compiled as the array method {func.attr} of `{recv}`; "
                    f"if `{recv}` holds a module (xp=np), call numpy's functions by the module's name "
                    f"(np.{func.attr}(...)), or import it inside the function)")
        op = rule.op
        if isinstance(op, np.ufunc) and len(node.args) > op.nin and not node.keywords:
            # np.divmod(a, b, q, r): output arrays by position, written in place (sct does not follow)
            extra = len(node.args) - op.nin
            hint = (f" (it is given {extra} output array{'s' if extra > 1 else ''} by position, after its "
                    f"{op.nin} input{'s' if op.nin > 1 else ''}, to write into in place, which sct does not "
                    f"follow; assign the result instead: `r = {rule.name}(...)` with the inputs only)")
        elif any(k.arg == "out" for k in node.keywords) and "out" not in sig.parameters:
            # np.sin(z[0], out=z[1]), np.matmul(a, b, out=z[:, :]): numpy takes out=, sct's rule does not
            # (was: the refusal opened with "does not match its signature", red56d R1: what is refused first)
            raise CompileError(f"`{rule.name}(..., out=...)`: numpy's out= writes the result into an array in place "
                               f"(into a view such as t[:, :2] too), which sct does not follow here; assign the "
                               f"result instead, with the inputs only: `r = {rule.name}(...)`, or "
                               f"`z[...] = {rule.name}(...)` to write it into z (`t[:, :2] = {rule.name}(...)` for "
                               f"out=t[:, :2])", filename, line, rule.name) from None
        raise CompileError(f"the call to {rule.name} does not match its signature "
                           f"{rule.name}{sig}: {exc}{hint}", filename, line, rule.name) from None
    result: Dict[str, Any] = {}
    for name, param in sig.parameters.items():
        if name in bound.arguments:
            value = bound.arguments[name]
            if param.kind == inspect.Parameter.VAR_POSITIONAL:
                value = gast.Tuple(elts=list(value), ctx=gast.Load())
            result[name] = value
        elif param.kind == inspect.Parameter.VAR_POSITIONAL:
            result[name] = gast.Tuple(elts=[], ctx=gast.Load())
        elif param.kind == inspect.Parameter.VAR_KEYWORD:
            result[name] = gast.Dict(keys=[], values=[])
        elif param.default is not inspect.Parameter.empty:
            result[name] = _default_node(param.default)
    return result


def _default_node(value):
    if value is None or isinstance(value, (bool, int, float, complex, str)):
        return gast.Constant(value=value, kind=None)
    if isinstance(value, tuple) and all(isinstance(v, (int, float)) for v in value):
        return gast.Tuple(elts=[gast.Constant(value=v, kind=None) for v in value], ctx=gast.Load())
    return gast.Constant(value=None, kind=None)


# --- argument kinds ------------------------------------------------------------------------

def _op_name(op) -> str:
    module = getattr(op, "__module__", None) or ""
    name = getattr(op, "__name__", repr(op))
    if module_top(op) == "numpy":
        return ("np.linalg." if "linalg" in module else "np.") + name
    return name


def _public_op(op) -> bool:
    """A deep-learning function ``sct`` exports (``sct.dlconv``, ``sct.crossentropy``, ...): a user
    passes its arguments, so a traced one its rule has no derivative for (``PaddingValue``) is
    refused as for the user's own rules (a runtime helper's other parameters are shapes)."""
    from .runtime import dlfun, nn
    name = getattr(op, "__name__", None)
    return isinstance(name, str) and any(name in m.__all__ and getattr(m, name) is op for m in (dlfun, nn))


def _arange_traced(call: gast.Call, is_active):
    keywords = {k.arg: k.value for k in call.keywords}
    args = list(call.args)
    advice = ("Use start + step * np.arange(n) (differentiated) with a constant count n, or pass "
              "constants (extractdata(...)).")
    if (len(args) >= 2 and is_active(args[0])) or ("start" in keywords and is_active(keywords["start"])):
        return "np.arange", "start", advice
    step = args[2] if len(args) >= 3 else keywords.get("step")
    if step is not None and is_active(step):
        return "np.arange", "step", advice
    return None          # np.arange(stop) or a traced stop: values are integers or start + k*step


def _index_trick_traced(call: gast.Call, is_active):
    if len(call.args) >= 2 and is_active(call.args[1]):
        spelled = call.args[2] if len(call.args) >= 3 else None
        name = spelled.value if isinstance(spelled, gast.Constant) else "an index-trick object"
        return (f"{name}[...]", "index",
                "np.r_[a, b] and np.c_[a, b] of arrays and numbers are differentiated (written so, "
                "numpy's module and the attribute: not r_[a, b] of `from numpy import r_`); with slices "
                "or directives, and np.mgrid/np.ogrid/np.s_, build the array with np.concatenate, "
                "np.linspace or np.stack from the traced values instead.")
    return None


# nondifferentiable ops whose results do move with some arguments: a traced one is refused
CONTINUOUS_NONDIFF = {id(np.arange): _arange_traced, id(rt_support.index_trick): _index_trick_traced}


# --- activity -------------------------------------------------------------------------------

# the op of ``operator`` a binary operator is (its rule and facts are that op's)
OPERATORS = {gast.Add: operator.add, gast.Sub: operator.sub, gast.Mult: operator.mul,
             gast.Div: operator.truediv, gast.Pow: operator.pow, gast.MatMult: operator.matmul,
             gast.Mod: operator.mod, gast.BitOr: operator.or_}



def _function_parameters(fdef) -> List[str]:
    args = fdef.args
    names = [a.id for a in list(getattr(args, "posonlyargs", []) or []) + list(args.args) + list(args.kwonlyargs)]
    return names + [extra.id for extra in (args.vararg, args.kwarg) if extra is not None]


def fixed_point_statements(fdef) -> List:
    """The statements the activity fixed point visits, in the walk's order (the tree does not
    change while it runs)."""
    from .ir import statements_no_defs      # (walk_no_defs' statements, in its order)
    return [node for node in statements_no_defs(fdef)
            if isinstance(node, gast.Assign) or isinstance(node, gast.Expr) and isinstance(node.value, gast.Call)]


def _key_written(key):
    """The key a write ``z[key] = v`` with a key not constant may write: a tuple (``z[:, ::-2]``,
    ``z[i, 0]``) equals no constant key (a list refuses it), a slice (``z[1:]``) only an int key of a
    list; else any key."""
    if isinstance(key, gast.Tuple):
        return None
    if isinstance(key, gast.Slice):
        return ("item", _SLICE_KEY)
    return ("item", _ANY_KEY)


def written_keys(nodes) -> Set:
    found = {("attr", t.attr) if isinstance(t, gast.Attribute) else ("item", t.slice.value)
             for node in nodes if isinstance(node, gast.Assign)
             for t in node.targets
             if isinstance(t, gast.Attribute) or
             (isinstance(t, gast.Subscript) and isinstance(t.slice, gast.Constant))}
    # (was: any key not constant was any key, so `t = w0.copy(); t[:, ::-2] = v` after `w0 = p["W"]`
    # took p["W"]'s kind away, and t = w0.copy() seemed a copy of anything: refused, fuzz53 R2)
    found |= {_key_written(t.slice) for node in nodes if isinstance(node, gast.Assign) for t in node.targets
              if isinstance(t, gast.Subscript) and not isinstance(t.slice, gast.Constant)}
    for node in nodes:
        # ``d = rt.setitem(d, "y", v)``: functionalize's new value of ``d["y"]`` (was: not a written key, so a
        # later ``d["y"]`` of a parameter took the argument's kind at entry, a plain array: no derivative through
        # it, where the write sat under a branch or loop and kept the parameter's name; redfix51b W1)
        value = node.value if isinstance(node, gast.Assign) else None
        if isinstance(value, gast.Call) and isinstance(value.func, gast.Attribute) and \
                value.func.attr in _SETITEMS and len(value.args) >= 2:
            key = value.args[1]
            found.add(("item", key.value) if isinstance(key, gast.Constant) else _key_written(key))
    found.discard(None)
    return found


def key_overwritten(written, key) -> bool:
    """May a write of ``written`` (``written_keys``) change the item at the constant ``key``?"""
    return ("item", key) in written or ("item", _ANY_KEY) in written or \
        (("item", _SLICE_KEY) in written and isinstance(key, int))


_SETITEMS = ("setitem", "setitem_owned")
_ANY_KEY = object()         # (a key known only when it runs: then no item of a parameter has its kind at entry)
_SLICE_KEY = object()       # (a slice: a list's int items only)


def name_readers(nodes: List) -> Dict[str, List[int]]:
    """For each name, the positions in ``nodes`` (statements) of those whose value reads it, in
    order: the statements ``semi_naive`` visits again once the name changes."""
    from .ir import walk_nodes
    readers: Dict[str, List[int]] = {}
    for i, node in enumerate(nodes):
        for name in {n.id for n in walk_nodes(node.value) if isinstance(n, gast.Name)}:
            readers.setdefault(name, []).append(i)
    return readers


def semi_naive(nodes: List, visit, sizes, readers: Optional[Dict[str, List[int]]] = None) -> None:
    """Visit ``nodes`` until ``sizes()`` (the sets' sizes) stops changing.  Semi-naive evaluation:
    a statement's effect only adds to the sets and depends only on the state of the names its
    value reads, so a statement none of whose names changed since its last visit would add
    nothing and is skipped (the same fixed point, reached through the same changes in the same
    order).  ``visit(node)`` applies a statement and returns the name node it may change.
    ``readers``: ``name_readers(nodes)``, where already found (the fixed points of one
    ``Activity.run`` visit the same statements, which none of them changes)."""
    from heapq import heapify, heappop, heappush
    count = len(nodes)
    # the statements reading each name: the ones to visit again once it changes (a worklist in
    # the walk's order, the same visits as checking every statement's names each round)
    if readers is None:
        readers = name_readers(nodes)
    due = range(count)                  # the statements to visit this round: all, at first
    rounds = 0
    while True:
        # the walk meets statements last to first, so a chain of n assignments takes n rounds;
        # past 50 rounds, go first to last (the sets only grow, so this ends)
        rounds += 1
        last = count - 1 if rounds > 50 else 0      # position in this round's order: abs(last - i)
        heap = [abs(last - i) for i in due]
        heapify(heap)
        queued = set(heap)
        again: Set[int] = set()        # changed after their turn this round: visited the next
        before = sizes()
        while heap:
            at = heappop(heap)
            was = sizes()
            changed = visit(nodes[abs(last - at)])
            if sizes() != was:
                # not expected: a change to a name not found; visit all again
                for i in (readers.get(changed.id, ()) if isinstance(changed, gast.Name) else range(count)):
                    position = abs(last - i)
                    if position > at:
                        if position not in queued:
                            queued.add(position)
                            heappush(heap, position)
                    else:
                        again.add(i)
        if sizes() == before:
            break
        due = again


def tree_fingerprint(node, stored: Optional[Set[str]] = None) -> List:
    """Which nodes a tree holds and every leaf field's value, in order: equal for the same
    tree unchanged (no node replaced, added, removed or renamed in place).  ``stored``: a set
    that receives the names the tree stores (on the same walk)."""
    out: List = []
    stack = [node]
    append, pop, push, extend, AST = out.append, stack.pop, stack.append, stack.extend, gast.AST
    Name, Store = gast.Name, gast.Store
    while stack:
        n = pop()
        if not isinstance(n, AST):              # None in a list (a dict's ** entry, a default)
            append(n)
            continue
        append(id(n))
        if stored is not None and n.__class__ is Name and isinstance(n.ctx, Store):
            stored.add(n.id)
        for name in n._fields:
            value = getattr(n, name, None)
            if isinstance(value, list):
                append(len(value))
                extend(reversed(value))
            elif isinstance(value, AST):
                push(value)
            else:
                append(value)
    return out


class ValueFacts:
    """What an assigned value is, given what is known of the names so far (``active``,
    ``complex``, ``kinds``, ``arrays``): the questions the activity fixed point asks."""

    active: Set[str]
    complex: Set[str]
    kinds: Dict[str, Any]
    arrays: Set[str]
    filename: str
    _bound_memo: Optional[Dict[int, tuple]] = None

    def call_info(self, node: gast.Call) -> CallInfo:
        raise NotImplementedError

    def is_active(self, node) -> bool:
        if isinstance(node, gast.Name):
            return node.id in self.active
        if isinstance(node, gast.Starred):
            return self.is_active(node.value)
        if isinstance(node, (gast.Tuple, gast.List)):
            return any(self.is_active(e) for e in node.elts)
        return False

    def is_complex(self, node) -> bool:
        if isinstance(node, gast.Name):
            return node.id in self.complex
        if isinstance(node, gast.Constant):
            return isinstance(node.value, complex)
        if isinstance(node, (gast.Tuple, gast.List)):
            return any(self.is_complex(e) for e in node.elts)
        return any(self.is_complex(n) for n in child_nodes(node)
                   if isinstance(n, (gast.Name, gast.Constant)))

    def text_names(self) -> Set[str]:
        """Names every assignment of which binds text (a str constant or an f-string)."""
        names = getattr(self, "_text_names", None)
        if names is None:
            from .ir import store_counts, walk_no_defs
            fdef = getattr(self, "fdef", None) or self.act.fdef
            stores = store_counts(fdef)
            texts = {}
            for node in walk_no_defs(fdef):
                if isinstance(node, gast.Assign) and len(node.targets) == 1 and \
                        isinstance(node.targets[0], gast.Name):
                    v = node.value
                    if isinstance(v, gast.JoinedStr) or isinstance(v, gast.Constant) and isinstance(v.value, str):
                        texts[node.targets[0].id] = texts.get(node.targets[0].id, 0) + 1
            names = {n for n, c in texts.items() if stores.get(n) == c}
            self._text_names = names
        return names

    def value_kind(self, value):
        written = getattr(self, "written_keys", ())
        if isinstance(value, gast.Subscript) and isinstance(value.value, gast.Name) and \
                isinstance(value.slice, gast.Constant):
            if key_overwritten(written, value.slice.value):
                return None
            return child_kind(self.kinds.get(value.value.id), value.slice.value)
        if isinstance(value, gast.Attribute) and isinstance(value.value, gast.Name):
            if ("attr", value.attr) in written:
                return None
            return child_kind(self.kinds.get(value.value.id), value.attr)
        if isinstance(value, gast.Name):
            return self.kinds.get(value.id)
        return None

    def value_active(self, value) -> bool:
        if isinstance(value, gast.Name):
            return value.id in self.active
        if isinstance(value, gast.Constant):
            return False
        if isinstance(value, gast.BinOp):
            # an operator is the op of ``operator`` its rule is registered for (as in reverse
            # mode): active when an operand its rule differentiates is
            rule = registry.lookup(OPERATORS.get(type(value.op)))
            if rule is None:
                return False
            if isinstance(value.op, gast.Mod) and isinstance(value.left, (gast.Constant, gast.JoinedStr)) and \
                    isinstance(getattr(value.left, "value", ""), str):
                return False        # "%.3f" % loss: text, as an f-string
            if isinstance(value.op, gast.Mod) and isinstance(value.left, gast.Name) and \
                    value.left.id in self.text_names():
                return False        # fmt = "%.3f"; fmt % loss: the same
            return any(self.is_active(operand) for operand, param in
                       zip((value.left, value.right), rule.signature.parameters) if param in rule.wrt)
        if isinstance(value, gast.UnaryOp):
            return isinstance(value.op, (gast.USub, gast.UAdd)) and self.is_active(value.operand)
        if isinstance(value, (gast.Compare, gast.JoinedStr, gast.BoolOp)):
            return False
        if isinstance(value, (gast.Subscript, gast.Attribute)):
            if isinstance(value, gast.Attribute) and (
                    (value.attr in registry.STOP_ATTRIBUTES and not self.user_field(value)) or
                    (value.attr in registry.NONDIFF_ATTRIBUTES and not self.user_attribute(value))):
                return False
            if not self.is_active(value.value):
                return False
            kind = self.value_kind(value)
            if kind is not None:
                # (a plain float array in a field of a traced object, ``m.W``: a variable, as the object's
                # methods read it; was a constant here, so the gradient with respect to m had only the
                # methods' part of its derivative)
                return kind_traced(kind) or isinstance(value, gast.Attribute) and \
                    object_array_field(self.value_kind(value.value), kind)
            return True
        if isinstance(value, (gast.Tuple, gast.List)):
            return any(self.is_active(e) for e in value.elts)
        if isinstance(value, gast.Dict):
            return any(self.is_active(v) for v in value.values)
        if isinstance(value, gast.Call):
            info = self.call_info(value)
            args_active = any(self.is_active(a) for a in value.args) or \
                any(self.is_active(k.value) for k in value.keywords) or \
                (isinstance(value.func, gast.Name) and value.func.id in self.active)
            if info.kind == CallKind.SITE:
                return _option(value, ("EnableHigherDerivatives", "enable_higher_derivatives"), True)
            if info.kind == CallKind.CREATE:     # dlarray(x): traced when x is
                return bool(value.args) and self.is_active(value.args[0])
            if info.kind in (CallKind.STOP, CallKind.NONDIFF):
                return False
            if info.kind == CallKind.OP:
                if starred_unbound(value, self.is_active):
                    # np.where(*parts), np.einsum(s, *ops): which parameter each item reaches is
                    # known only when it runs (binding the starred list as one argument read
                    # np.where(*[m, a, t]) as inactive: a zero gradient); active, and refused where
                    # a derivative is taken through it
                    return True
                memo = self._bound_memo      # while run() visits the unchanged tree: bound once
                hit = memo.get(id(value)) if memo is not None else None
                if hit is not None and hit[0] is value:
                    bound = hit[1]
                else:
                    bound = bind_arguments(info.rule, value, self.filename,
                                           getattr(value, "lineno", 0) or getattr(self, "_line", 0))
                    if memo is not None:
                        memo[id(value)] = (value, bound)
                return any(self.is_active(bound[p]) for p in info.rule.wrt if p in bound)
            if info.kind == CallKind.METHOD:
                if info.method in registry.NONDIFF_METHODS and not self.user_receiver(info.receiver):
                    return False
                return args_active or info.receiver in self.active
            return args_active
        return False

    def value_complex(self, value) -> bool:
        if isinstance(value, gast.Call):
            info = self.call_info(value)
            if _makes_complex(value, info):
                return True            # complex(0, 1), np.zeros(n, dtype=complex), x.astype(np.complex64)
            if (registry.facts_of(info.obj).real_output and not mean_keyword(value)) or \
                    info.kind in (CallKind.NONDIFF,):
                return False   # (np.var(a, mean=m): complex where m is; was: never)
            if info.kind == CallKind.OP and registry.facts_of(info.obj).complex_output:
                return True            # complex results from real arguments (np.fft.fft, np.linalg.eig)
            if info.kind == CallKind.METHOD and info.method in ("real", "imag"):
                return False
            if info.kind == CallKind.SITE:
                return any(self.is_complex(a) for a in value.args[1:])
            return self.is_complex(value) or any(self.is_complex(a) for a in value.args) or \
                any(self.is_complex(k.value) for k in value.keywords) or \
                (info.receiver is not None and info.receiver in self.complex)
        if isinstance(value, gast.Compare):
            return False
        if isinstance(value, gast.Attribute):
            if value.attr in ("real", "imag") or (value.attr in registry.NONDIFF_ATTRIBUTES and
                                                  not self.user_attribute(value)):
                return False
            kind = self.value_kind(value)
            if kind is not None:
                return kind_complex(kind)
            return self.is_complex(value.value)
        if isinstance(value, gast.Subscript):
            kind = self.value_kind(value)
            if kind is not None:
                return kind_complex(kind)
            return self.is_complex(value.value)
        if isinstance(value, gast.Dict):
            return any(self.is_complex(v) for v in value.values)
        return self.is_complex(value)

    def value_is_array(self, value) -> bool:
        """Known to be an array or a number (so adjoints add with +), not a container."""
        def array_operand(o):
            return (isinstance(o, gast.Constant) and isinstance(o.value, (int, float, complex))) or \
                (isinstance(o, gast.Name) and (o.id in self.arrays or leaf_kind(self.kinds.get(o.id)) is not None))
        if isinstance(value, gast.BinOp):
            return array_operand(value.left) and array_operand(value.right)
        if isinstance(value, gast.UnaryOp):
            return array_operand(value.operand)
        if isinstance(value, gast.Call):
            info = self.call_info(value)
            if info.obj is rt_support.setitem or info.obj is rt_support.copy_value:
                # ``h[i] = v`` written as ``h_1 = rt.setitem(h, i, v)``, and ``h.copy()``: an array's
                # new version (copy) is an array (was: refused as "a list, dict or object" filled
                # from h in ``h = x * 1.0; h[0] = ...; dlgradient(y, h)``)
                first = load(info.receiver) if info.kind == CallKind.METHOD and info.receiver else \
                    (value.args[0] if value.args else None)
                return first is not None and array_operand(first)
            if any(info.obj is c for c in (float, int, complex)) and info.kind != CallKind.METHOD:
                return True                # float(v): a number (was: no array, fuzz52 R1)
            if info.kind == CallKind.SITE and getattr(info.obj, "__name__", "") == "dlgradient" and \
                    len(value.args) == 2 and array_operand(value.args[1]):
                # the gradient with respect to one array: an array of its shape (was: no array, so a
                # MAML step ``p = p - 0.5 * g; p[0] = ...`` was refused as a list, dict or object
                # filled from p's new version, red team 53h FR1)
                return True
            if info.obj is rt_numpy_ops.astype and info.kind == CallKind.METHOD and info.receiver and \
                    array_operand(load(info.receiver)):
                # a.astype(t) of an array: an array (was: unknown, so the name of `w.astype(np.float32) * 1.5`
                # was no array and its .copy() may hold objects: a view of it written into was refused, fuzz53 R2)
                return True
            if info.kind in (CallKind.OP, CallKind.METHOD) and info.obj is not None:
                return returns_array(info.obj)
            if info.kind == CallKind.FUNCTION and all(
                    not isinstance(a, gast.Starred) and array_operand(a) for a in value.args) and all(
                    k.arg is not None and array_operand(k.value) for k in value.keywords):
                from .array_returns import returns_arrays
                keywords = [k.arg for k in value.keywords]
                if info.obj is None and isinstance(value.func, gast.Name):
                    # a def nested here: read from its source (fuzz53 R7: `hh(w, c=s).copy()`)
                    from .array_returns import nested_def
                    from .ir import walk_no_defs
                    fdef = getattr(self, "fdef", None) or self.act.fdef
                    d = nested_def(fdef, value.func.id)
                    shadowed = {n.id for n in walk_no_defs(fdef) if isinstance(n, gast.Name) and
                                not isinstance(n.ctx, gast.Load)} | set(_function_parameters(fdef))
                    return d is not None and returns_arrays(getattr(self.resolver, "fn", None), len(value.args),
                                                            keywords, fdef=d, shadowed=shadowed)
                return returns_arrays(info.obj, len(value.args), keywords)     # helper(x) of `return u * 2.0`
            return False
        if isinstance(value, gast.Attribute) and value.attr in registry.ATTRIBUTES:
            return array_operand(value.value)
        if isinstance(value, gast.Subscript) and array_operand(value.value):
            return True                    # indexing an array gives an array (or a number)
        if isinstance(value, gast.Name):
            return array_operand(value)
        return leaf_kind(self.value_kind(value)) is not None



class Dependence(ValueFacts):
    """The names whose values depend on ``seeds``: the activity fixed point again, from those
    seeds alone, over the tree ``act`` was found for, reading what it found (its kinds, its
    calls): only the active set is followed (``Activity(fdef, ..., act.kinds, seeds, ...)``
    finds the same, and builds everything else again)."""

    def __init__(self, fdef: gast.FunctionDef, act: "Activity", seeds: Set[str]):
        self.act = act
        self.filename = act.filename
        self.active = set(seeds)
        self.complex, self.arrays = act.complex, act.arrays
        self.kinds = act.kinds
        nodes = fixed_point_statements(fdef)
        self.written_keys = written_keys(nodes)
        self._bound_memo = {}
        try:
            semi_naive(nodes, self.visit, lambda: len(self.active))
        finally:
            self._bound_memo = None

    def call_info(self, node: gast.Call) -> CallInfo:
        return self.act.call_info(node)

    def user_attribute(self, value) -> bool:
        return self.act.user_attribute(value)

    def user_field(self, value) -> bool:
        return self.act.user_field(value)

    def user_receiver(self, name: str) -> bool:
        return self.act.user_receiver(name)

    def visit(self, node):
        if isinstance(node, gast.Assign):
            target = node.targets[0]
            if isinstance(target, gast.Name):
                if self.value_active(node.value):
                    self.active.add(target.id)
                return target
            base = getattr(target, "value", None)
            if isinstance(target, (gast.Subscript, gast.Attribute)) and isinstance(base, gast.Name) and \
                    self.value_active(node.value):
                self.active.add(base.id)
            return base
        func = node.value.func
        if isinstance(func, gast.Attribute) and func.attr in ("append", "extend", "insert") \
                and isinstance(func.value, gast.Name) and \
                any(self.is_active(a) for a in node.value.args):
            self.active.add(func.value.id)
        return getattr(func, "value", None)


class Activity(ValueFacts, RealnessProof):
    """Which names depend on the traced inputs, which may be complex, which have known kinds."""

    def __init__(self, fdef: gast.FunctionDef, resolver: Resolver, param_kinds: Dict[str, Any],
                 active_params: Set[str], complex_params: Set[str], filename: str):
        self.fdef = fdef
        self.resolver = resolver
        self.filename = filename
        self.active: Set[str] = set(active_params)
        self.entry_active = frozenset(active_params)    # (the parameters traced as given)
        self.complex: Set[str] = set(complex_params)
        # the names that may hold a complex value: ``complex`` and every name some assignment of which
        # is not proven real (a helper's result, a value from code sct cannot read): a rule drops a
        # conj or projects on the reals statically only for a value proven real (``value_real``); for
        # the others it decides when it runs (rt.conj_of, rt.real_if_real).  Was: a value not known
        # to be complex was taken for real (``w = fn(x)`` with ``fn = lambda v: v * 1j`` passed in,
        # a global complex array in code differentiated again): silently wrong gradients
        self.maybe_complex: Set[str] = set(complex_params)
        self.kinds: Dict[str, Any] = dict(param_kinds)
        self.arrays: Set[str] = set()       # names known to hold arrays or numbers
        self.lists: Set[str] = set()        # names known to hold Python lists
        self.mixed: Set[str] = set()        # of those, names another assignment may bind to a container
        self.sequences: Set[str] = set()    # names some assignment binds to a tuple or list
        self.calls: Dict[int, CallInfo] = {}
        self._arrays_only = False     # run(): the first fixed point finds the arrays and kinds only
        self._line = 0              # the line of the statement being analysed (for errors)
        self.objects = self.user_objects()  # names that only ever hold objects of the user's classes
        self._bound_memo: Optional[Dict[int, tuple]] = {}
        try:
            self.run()
        finally:
            self._bound_memo = None

    def call_info(self, node: gast.Call) -> CallInfo:
        key = id(node)
        if key not in self.calls:
            info = classify_call(node, self.resolver)
            if info.kind == CallKind.METHOD and info.rule is not None:
                if self.user_receiver(info.receiver) or self._library_receiver(info.receiver):
                    # ``agg.sum(x)`` on an object of the user's class is its own method, not numpy's sum
                    info = CallInfo(CallKind.METHOD, receiver=info.receiver, method=info.method)
                elif info.receiver not in self.kinds:
                    return info                 # its kind may be found later: decided again then
            self.calls[key] = info
        return self.calls[key]

    def _library_receiver(self, name: str) -> bool:
        """Is ``name`` a global or closure value holding an object that is not an array, a number or a
        list, tuple or dict (a scipy.sparse matrix, an ``np.matrix``)?  Its ``.dot(x)``, ``.sum()``,
        ... is its class's own method, not ndarray's: differentiated with numpy's rule, the gradient
        of a sparse matrix's ``L.dot(x)`` failed inside sct (red team G, dec 25), and an np.matrix's
        ``M.dot(x)`` (a matrix, whose ``*`` is a matrix product) gave a wrong one."""
        from .runtime.dlarray import dlarray
        from .runtime.support import array_subclass_override
        value = self.resolver.resolve_name(name) if self.resolver is not None else Unresolved
        if value is Unresolved or value is _MISSING:
            return False
        cls = type(value)
        if cls in (np.ndarray, dlarray, list, tuple, dict) or isinstance(value, (numbers.Number, np.generic)):
            return False
        if isinstance(value, np.ndarray):
            return bool(array_subclass_override(cls))
        return not isinstance(value, (list, tuple, dict, types.ModuleType, type, types.SimpleNamespace))

    def array_receiver(self, name) -> bool:
        """Is ``name`` known to hold an array or a number (its kind, or what was assigned to it)?"""
        return name in self.arrays or leaf_kind(self.kinds.get(name)) is not None

    def user_field(self, value) -> bool:
        """Is ``value`` (an attribute) surely a field of an object of the user's class (its receiver
        a name known to hold one)?  ``n.data`` of a Node is its field, not dlarray's data (a
        constant): it was compiled to ``n`` itself (a TypeError further on, or a wrong value)."""
        return isinstance(value.value, gast.Name) and self.user_receiver(value.value.id)

    def user_attribute(self, value) -> bool:
        """May ``value`` (an attribute named as an array's metadata, NONDIFF_ATTRIBUTES) be a
        field of an object of the user's class?  ``b.size``, ``self.shape`` of such an object
        is the user's own field, which may hold a traced value: it was taken for a constant, so
        its derivative was silently zero (a distribution's ``self.shape``, a box's ``b.size``).
        Only a receiver known to hold an array or a number (its kind, what was assigned to it)
        is surely metadata; any other is followed as attributes are (an array's metadata then
        gets no derivative at run time: rt.attribute_adjoint, rt.tangent_attribute)."""
        receiver = value.value
        if value.attr in ("strides", "flags"):
            return False                # an array's layout (no user's field holds a derivative there)
        if isinstance(receiver, gast.Name):
            if self.user_receiver(receiver.id):
                return True
            # every binding of the name, not one of them: ``d = np.exp(a)`` then, in a branch,
            # ``d = Gamma(d[0], d[1])`` with a field ``self.shape``: ``d.shape`` was taken for an
            # array's metadata, a silently zero derivative (red team sci, dec 27)
            return not self.surely_array(receiver.id)
        return leaf_kind(self.value_kind(receiver)) is None and not self.value_is_array(receiver)

    def surely_array(self, name: str, seen=None) -> bool:
        """Does every binding of ``name`` give an array or a number (a parameter of an array's kind,
        ``for name in range(...)``, assignments each known to give one)?  ``arrays`` has the names
        some assignment binds to one."""
        bindings = getattr(self, "_surely_bindings", None)
        if bindings is None:
            from .ir import walk_no_defs
            stores: Dict[str, int] = {}
            assigned: Dict[str, List] = {}
            for node in walk_no_defs(self.fdef):
                if isinstance(node, gast.Name) and isinstance(node.ctx, (gast.Store, gast.Del)):
                    stores[node.id] = stores.get(node.id, 0) + 1
                if isinstance(node, gast.Assign) and len(node.targets) == 1 and \
                        isinstance(node.targets[0], gast.Name):
                    assigned.setdefault(node.targets[0].id, []).append(node.value)
            bindings = self._surely_bindings = (stores, assigned, self.range_counters(),
                                         set(_function_parameters(self.fdef)))
        stores, assigned, counters, params = bindings
        values = assigned.get(name, [])
        if name in params:
            if leaf_kind(self.kinds.get(name)) is None:
                return False
        elif not values and name not in counters:
            return False
        if name in counters:
            return True             # (bound by range loops only)
        if stores.get(name, 0) != len(values):
            return False            # bound otherwise too (a with's as, a loop, a del)
        seen = set() if seen is None else seen
        seen.add(name)
        for v in values:
            if isinstance(v, gast.Name):
                if v.id not in seen and not self.surely_array(v.id, seen):
                    return False
            elif not (self.value_is_array(v) or self._no_user_object(v, seen)):
                return False
        return True

    def _no_user_object(self, v, seen) -> bool:
        """Is ``v`` surely no object of the user's classes: an operator's result (an operator on such an
        object is refused), a numpy (or scipy, math) function's or an op's result, a method's result
        of an object made by one (``rng.random(n)`` of ``rng = np.random.default_rng(0)``)?"""
        if isinstance(v, (gast.Constant, gast.BinOp, gast.UnaryOp, gast.Compare, gast.JoinedStr)):
            return True
        if not isinstance(v, gast.Call):
            return False
        info = self.call_info(v)
        if info.kind in (CallKind.OP, CallKind.STOP, CallKind.CREATE):
            return True
        if info.kind == CallKind.METHOD:
            r = info.receiver
            return r is not None and not self.user_receiver(r) and r not in seen and \
                self._library_made(r, seen)
        fn = info.obj
        if fn is None or isinstance(fn, type):
            return False
        module = (getattr(fn, "__module__", None) or "").split(".")[0]
        return module in ("numpy", "scipy", "math")

    def _library_made(self, name: str, seen) -> bool:
        """Is ``name`` bound only to arrays, numbers and what numpy's (scipy's, math's) functions give?"""
        if self.surely_array(name, set(seen)):
            return True
        stores, assigned, _, params = self._surely_bindings
        values = assigned.get(name, [])
        if name in params or not values or stores.get(name, 0) != len(values):
            return False
        seen = set(seen) | {name}
        for v in values:
            if not isinstance(v, gast.Call) or self.call_info(v).kind == CallKind.METHOD or \
                    not self._no_user_object(v, seen):
                return False
        return True

    def user_receiver(self, name: str) -> bool:
        """Is ``name`` known to hold an object of the user's class (an argument's kind says so, or
        every assignment to it builds one)?"""
        if name in self.objects:
            return True
        kind = self.kinds.get(name)
        if isinstance(kind, tuple) and len(kind) > 1 and kind[0] == "obj" and \
                isinstance(kind[1], type) and not issubclass(kind[1], (tuple, np.ndarray)) and \
                not _sct_or_numpy_class(kind[1]):
            return True
        return name not in self.kinds and self._outside_user_object(name)

    def _outside_user_object(self, name: str) -> bool:
        """Is ``name`` a closure value or global (not a local: guarded as the compiler reads it) holding an
        object of a class of the user's module?  autograd's convnet example's ``parser.get(vect, name)`` of
        the WeightsParser its factory made (red team B, dec 23: was compiled as an array's (a dict's) get,
        refused when it ran)."""
        value = self.resolver.resolve_name(name) if self.resolver is not None else Unresolved
        if value is Unresolved or value is _MISSING or value is None:
            return False
        cls = type(value)
        module = module_top(cls)
        return not isinstance(value, (types.ModuleType, types.FunctionType, types.MethodType, type,
                                      types.BuiltinFunctionType, types.SimpleNamespace)) and \
            hasattr(value, "__dict__") and not issubclass(cls, (tuple, list, dict, np.ndarray)) and \
            not _sct_or_numpy_class(cls) and module not in ("builtins", "scipy", "numpy", "sct", "runtime",
                                                           "functools", "collections")

    def user_objects(self) -> Set[str]:
        from .ir import walk_no_defs
        stores: Dict[str, int] = {}
        builds: Dict[str, int] = {}
        for node in walk_no_defs(self.fdef):
            if isinstance(node, gast.Name) and isinstance(node.ctx, gast.Store):
                stores[node.id] = stores.get(node.id, 0) + 1
            if isinstance(node, gast.Assign) and isinstance(node.targets[0], gast.Name) and \
                    isinstance(node.value, gast.Call):
                cls = self.resolver.resolve(node.value.func)
                if isinstance(cls, type) and isinstance(getattr(cls, "__init__", None), types.FunctionType) \
                        and not issubclass(cls, (tuple, np.ndarray)) and \
                        not _sct_or_numpy_class(cls):
                    builds[node.targets[0].id] = builds.get(node.targets[0].id, 0) + 1
        return {n for n, count in builds.items() if stores.get(n) == count and n not in self.kinds}

    def run(self):
        nodes = fixed_point_statements(self.fdef)
        # fields written anywhere here (``o.b = ...``, ``d["k"] = ...``, through any name): a read
        # of such a field may see the written value, so its argument kind does not decide it
        self.written_keys = written_keys(nodes)
        self.arrays |= self.range_counters()
        # first the names known to hold arrays (and the kinds), to their own fixed point: an
        # attribute named as an array's metadata (``lp.shape``) is traced unless its receiver is known
        # to be an array, and a name made traced stays traced, so activity decided before the arrays
        # were known (``l = l - l.max()`` in a loop: ``l.max()`` known to give an array only once
        # ``l``'s kind is) was kept (red team sci, dec 27: ``rng.integers(0, lp.shape[0])`` in a loop
        # then made ``rng`` read by an adjoint, and a later ``rng.normal()`` was refused)
        readers = name_readers(nodes)       # (the three fixed points' statements: found once)
        self._arrays_only = True
        try:
            semi_naive(nodes, self.visit, lambda: (len(self.arrays), len(self.kinds)), readers)
        finally:
            self._arrays_only = False
        semi_naive(nodes, self.visit, lambda: (len(self.active), len(self.complex), len(self.arrays),
                                               len(self.lists), len(self.kinds)), readers)
        # (after: a value is proven real from the arrays and kinds found, which only grow)
        self.maybe_complex |= self.complex
        semi_naive(nodes, self.visit_realness, lambda: len(self.maybe_complex), readers)
        self.check_covered(nodes)
        self.mixed = self.mixed_names(nodes)
        self.sequences = self.sequence_names(nodes)

    def range_counters(self) -> Set[str]:
        """The names bound only as the targets of ``for t in range(...)`` (Python's own range; every
        loop is one after normalizing): ints, so ``l = theta * t`` holds an array and ``l.shape`` is
        an array's metadata, not a user's field that may be traced (red team sci, dec 27: such a
        ``l.shape[0]`` given to ``rng.integers`` in a loop made the generator look read by an adjoint,
        and a later ``rng.normal()`` was refused)."""
        from .ir import walk_no_defs
        stores: Dict[str, int] = {}
        counters: Dict[str, int] = {}
        for node in walk_no_defs(self.fdef):
            if isinstance(node, gast.Name) and not isinstance(node.ctx, gast.Load):
                stores[node.id] = stores.get(node.id, 0) + 1
            if isinstance(node, gast.For) and isinstance(node.target, gast.Name) and \
                    isinstance(node.iter, gast.Call) and self.resolver is not None and \
                    self.resolver.resolve(node.iter.func) is range:
                counters[node.target.id] = counters.get(node.target.id, 0) + 1
        return {n for n, count in counters.items() if stores.get(n) == count and n not in self.kinds}

    def sequence_names(self, nodes) -> Set[str]:
        """The names some assignment binds to a tuple or list: a literal (``xs = a, b``), a list
        comprehension, ``tuple(...)``/``list(...)``, or such a name's copy, slice, concatenation or
        repetition.  ``xs * k`` with such an ``xs`` may repeat it (``act.lists`` has only the names
        bound to list literals: ``xs = (a, b); ys = xs * k`` was differentiated as a product, the
        list adjoint times k, a silently wrong gradient)."""
        found: Set[str] = set()
        assigns = [node for node in nodes if isinstance(node, gast.Assign) and
                   isinstance(node.targets[0], gast.Name)]

        def named(o) -> bool:
            return isinstance(o, gast.Name) and o.id in found

        def sequence(value) -> bool:
            if isinstance(value, (gast.Tuple, gast.List, gast.ListComp)):
                return True
            if isinstance(value, gast.Call):
                return any(self.resolver.resolve(value.func) is t for t in (tuple, list))
            if isinstance(value, gast.Subscript):
                return named(value.value) and isinstance(value.slice, gast.Slice)
            if isinstance(value, gast.BinOp) and isinstance(value.op, (gast.Add, gast.Mult)):
                return named(value.left) or named(value.right)
            return named(value)

        changed = True
        while changed:
            changed = False
            for node in assigns:
                name = node.targets[0].id
                if name not in found and sequence(node.value):
                    found.add(name)
                    changed = True
        return found

    def mixed_names(self, nodes) -> Set[str]:
        """The names known to hold arrays (``arrays``, an array kind) that another assignment may
        bind to a tuple, list or dict (a container literal or comprehension, a helper's result, or
        such a name's copy, item, slice, sum or repetition): ``v = x; for ...: v = (v, 2 * v);
        v = v[0] + v[1]``.  Their adjoints add with ``rt.add_grad``, never ``+`` (which concatenated
        the tuple's list adjoints: a silently wrong gradient; a dict's: a TypeError)."""
        values: Dict[str, List] = {}
        for node in nodes:
            if isinstance(node, gast.Assign) and isinstance(node.targets[0], gast.Name):
                values.setdefault(node.targets[0].id, []).append(node.value)
        mixed: Set[str] = set()

        def may_be_container(value) -> bool:
            if isinstance(value, (gast.Tuple, gast.List, gast.Dict, gast.Set, gast.ListComp,
                                  gast.SetComp, gast.DictComp, gast.GeneratorExp)):
                return True
            if isinstance(value, (gast.Constant, gast.Compare, gast.BoolOp, gast.JoinedStr,
                                  gast.UnaryOp, gast.Lambda)):
                return False
            if isinstance(value, gast.Name):
                base = value
            elif isinstance(value, gast.Subscript):
                base = value.value
            elif isinstance(value, gast.BinOp) and isinstance(value.op, (gast.Add, gast.Mult)):
                base = next((o for o in (value.left, value.right)
                             if isinstance(o, gast.Name) and o.id in mixed), None)
            elif isinstance(value, gast.BinOp):
                return False            # (``-``, ``/``, ``@``, ...: never a container)
            elif isinstance(value, gast.Call) and \
                    any(self.call_info(value).obj is f for f in (rt_support.setitem, rt_support.copy_value)):
                info = self.call_info(value)          # (``v.copy()``, ``rt.setitem(v, i, a)``: v's kind)
                base = load(info.receiver) if info.kind == CallKind.METHOD and info.receiver else \
                    (value.args[0] if value.args else None)
            else:
                base = None
            if isinstance(base, gast.Name) and base.id in mixed:
                return True
            return not self.value_is_array(value)

        changed = True
        while changed:
            changed = False
            for name, vals in values.items():
                if name not in mixed and self.array_receiver(name) and any(map(may_be_container, vals)):
                    mixed.add(name)
                    changed = True
        return mixed

    def visit(self, node):
        """One statement's effect on the sets; the name it may have changed (or None)."""
        if isinstance(node, gast.Assign):
            self.assignment(node)
            changed = node.targets[0]
            return changed if isinstance(changed, gast.Name) else getattr(changed, "value", None)
        if self._arrays_only:
            return None
        call_node = node.value
        func = call_node.func
        # xs.append(v) with v active makes the list xs active
        if isinstance(func, gast.Attribute) and func.attr in ("append", "extend", "insert") \
                and isinstance(func.value, gast.Name) and \
                any(self.is_active(a) for a in call_node.args):
            self.active.add(func.value.id)
            self.lists.add(func.value.id)
        return getattr(func, "value", None)

    # --- every traced argument of an op must be covered by its rule (issue 6, item 8) ------------
    def check_covered(self, nodes=None):
        from .ir import walk_no_defs
        # ``nodes``: the fixed point's statements, in the same walk's order (one walk fewer)
        for node in (walk_no_defs(self.fdef) if nodes is None else nodes):
            if isinstance(node, (gast.Assign, gast.Expr)) and isinstance(node.value, gast.Call):
                self.check_call(node.value, node)
            elif isinstance(node, gast.Assign) and isinstance(node.value, gast.Compare):
                self.check_type_compare(node.value, getattr(node, "lineno", None) or
                                        getattr(self.fdef, "lineno", 0))

    def check_call(self, value: gast.Call, stmt):
        info = self.call_info(value)
        line = getattr(stmt, "lineno", None) or getattr(self.fdef, "lineno", 0)

        def refuse(what: str, param: str, advice: str):
            raise CompileError(
                f"{what}: the argument {param!r} depends on the traced inputs, but sct has no "
                f"derivative of {what} with respect to {param!r} (it would silently be zero). "
                f"{advice}", self.filename, line, what)

        if info.obj is isinstance or info.obj is issubclass:
            self.check_type_test(value, line)
        if info.kind == CallKind.NONDIFF:
            check = CONTINUOUS_NONDIFF.get(id(info.obj))
            if check is not None:
                found = check(value, self.is_active)
                if found is not None:
                    refuse(*found)
            return
        rule = info.rule
        if rule is None or info.kind not in (CallKind.OP, CallKind.METHOD):
            return
        if (getattr(rule.op, "__module__", None) or "").startswith("sct.runtime") and not _public_op(rule.op):
            return             # the runtime's own helpers: their other parameters are shapes
        node = value if info.kind == CallKind.OP else gast.Call(
            func=value.func, args=[load(info.receiver)] + list(value.args), keywords=value.keywords)
        if any(isinstance(a, gast.Starred) for a in node.args):
            return
        bound = bind_arguments(rule, node, self.filename, line)
        for param in registry.uncovered_params(rule):
            if param in bound and self.is_active(bound[param]):
                if param == "out":
                    # (was: "sct has no derivative of np.clip with respect to 'out'" for ``h.clip(0, 2, out=h)``,
                    # untrue: out is where the result is written, red team 51)
                    name = _op_name(rule.op)
                    raise CompileError(
                        f"{name}(..., out=...) writes its result into a traced array in place, which sct does "
                        f"not follow for this call{' (the method form)' if info.kind == CallKind.METHOD else ''}; "
                        f"assign the result instead (`h = {name}(...)` without out"
                        + (", or the function form `np.clip(h, lo, hi, out=h)`, which sct follows)"
                           if info.kind == CallKind.METHOD and name.endswith("clip") else ")"),
                        self.filename, line, name)
                refuse(_op_name(rule.op), param,
                       "Pass a constant (extractdata(...)) if that is intended, or compute the value "
                       "with operations sct differentiates.")

    def check_type_test(self, value: gast.Call, line: int):
        """``isinstance(x, dlarray)``, ``issubclass(type(x), dlarray)``: answered as plain Python's run answers
        (sct/forward_code.py type_test; was refused, the code holding a traced value's data): nothing to check."""

    def check_type_compare(self, value: gast.Compare, line: int):
        """``x.__class__ is dlarray``, ``x.__class__.__name__ == "dlarray"``: the class of the data generated
        code holds for a traced value (a numpy array), where plain Python's run has a dlarray: refused
        (``type(x)`` answers as Python does: sct/forward_code.py type_test; red team nb, dec 5)."""
        if self._runtime_code():
            return
        operands = [value.left] + list(value.comparators)
        defs = self._single_defs()

        def bound(node):
            """The expression a temporary of normalization stands for (one level)."""
            if isinstance(node, gast.Name) and len(defs.get(node.id, ())) == 1:
                return defs[node.id][0]
            return node

        def class_of(node):        # v of v.__class__ or v.__class__.__name__ (None for anything else)
            node = bound(node)
            if isinstance(node, gast.Attribute) and node.attr in ("__name__", "__qualname__"):
                node = bound(node.value)
            return node.value if isinstance(node, gast.Attribute) and node.attr == "__class__" else None

        def dlarray_named(node):
            node = bound(node)
            elts = node.elts if isinstance(node, (gast.Tuple, gast.List, gast.Set)) else [node]
            return any(isinstance(e, gast.Constant) and e.value == "dlarray" or
                       any(c is self._dlarray_class() for c in self._classes(e)) for e in elts)

        for a in operands:
            v = class_of(a)
            if v is not None and (self.is_active(v) or any(dlarray_named(b) for b in operands if b is not a)):
                raise CompileError(
                    "a test of x.__class__ in a function sct transforms: sct runs it on the data of the "
                    "dlarrays (numpy arrays), so the answer may differ from the function's own run on dlarrays; "
                    "write type(x) (answered as Python's run answers), isinstance(x, (np.ndarray, sct.dlarray)), "
                    "or test the value's shape or ndim", self.filename, line, "x.__class__")

    def _runtime_code(self) -> bool:
        module = getattr(getattr(self.resolver, "fn", None), "__module__", "") or ""
        return module.startswith(("sct.runtime.", "sct_generated"))

    @staticmethod
    def _dlarray_class():
        from .runtime.dlarray import dlarray
        return dlarray

    def _single_defs(self) -> Dict[str, List]:
        defs = getattr(self, "_type_test_defs", None)
        if defs is None:
            from .ir import walk_no_defs
            defs = {}
            for node in walk_no_defs(self.fdef):
                if isinstance(node, gast.Assign) and isinstance(node.targets[0], gast.Name):
                    defs.setdefault(node.targets[0].id, []).append(node.value)
            self._type_test_defs = defs
        return defs

    def _classes(self, node, depth=0) -> list:
        """What a classinfo may hold: resolved objects (through the temporaries normalization made
        of ``(float, sct.dlarray)``)."""
        defs = self._single_defs()
        if isinstance(node, (gast.Tuple, gast.List)):
            return [c for e in node.elts for c in self._classes(e, depth)]
        if isinstance(node, gast.Name) and len(defs.get(node.id, ())) == 1 and depth < 8:
            return self._classes(defs[node.id][0], depth + 1)
        if isinstance(node, gast.Constant):
            return []
        found = self.resolver.resolve(node)
        return list(found) if isinstance(found, tuple) else [found]

    def assignment(self, node: gast.Assign):
        target = node.targets[0]
        value = node.value
        self._line = getattr(node, "lineno", 0) or getattr(self.fdef, "lineno", 0)
        if self._arrays_only:
            if isinstance(target, gast.Name):
                if self.value_is_array(value):
                    self.arrays.add(target.id)
                kind = self.value_kind(value)
                if kind is not None and target.id not in self.kinds:
                    self.kinds[target.id] = kind
            return
        if isinstance(target, gast.Name):
            name = target.id
            if self.value_active(value):
                self.active.add(name)
            if self.value_complex(value):
                self.complex.add(name)
            if self.value_is_array(value):
                self.arrays.add(name)
            if isinstance(value, gast.List) or (isinstance(value, gast.BinOp) and
                                                isinstance(value.op, gast.Add) and
                                                isinstance(value.left, gast.Name) and
                                                value.left.id in self.lists):
                self.lists.add(name)
            kind = self.value_kind(value)
            if kind is not None and name not in self.kinds:
                self.kinds[name] = kind
        elif isinstance(target, (gast.Subscript, gast.Attribute)):
            base = target.value
            if isinstance(base, gast.Name):
                if self.value_active(value):
                    self.active.add(base.id)
                if self.value_complex(value):
                    self.complex.add(base.id)

def returns_array(op) -> bool:
    """Is ``op``'s result an array or number (never a list or tuple)?"""
    module = getattr(op, "__module__", None) or ""
    facts = registry.facts_of(op)
    if facts.many_outputs:
        return False
    if facts.elementwise or facts.real_output:
        return True                    # builtin abs, a user's elementwise or real-valued op
    if isinstance(op, np.ufunc) or module in ("_operator", "operator"):
        return True
    return module_top(op) == "numpy" or module == "sct.runtime.nn"


def _option(node: gast.Call, names, default):
    for k in node.keywords:
        if k.arg in names:
            if isinstance(k.value, gast.Constant):
                return bool(k.value.value)
            return default
    return default


# --- functional writes and renaming --------------------------------------------------------

def functionalize(body: List, active: Set[str], lists: Set[str], rt_name: str = "rt",
                  force: Set[int] = frozenset()) -> List:
    """``x[i] = v`` and ``xs.append(v)`` on active values become new values of ``x``/``xs``
    (and so do the writes in ``force``: an adjoint reads the value they would change)."""
    out = []
    for s in body:
        if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Subscript) and \
                isinstance(s.targets[0].value, gast.Name) and \
                (s.targets[0].value.id in active or _name_in(s.value, active) or id(s) in force):
            target = s.targets[0]
            index = index_value(target.slice, rt_name)
            new = assign(target.value.id, call(f"{rt_name}.setitem", [load(target.value.id), index, s.value]),
                         s.lineno)
            if getattr(s, "sct_into_argument", False):     # (sct.write_checks._argument_item_write)
                new.value.sct_into_argument = True
                new.value.sct_through_type = getattr(s, "sct_through_type", "")
            out.append(new)
        elif isinstance(s, gast.Expr) and isinstance(s.value, gast.Call) and \
                isinstance(s.value.func, gast.Attribute) and s.value.func.attr == "append" and \
                isinstance(s.value.func.value, gast.Name) and len(s.value.args) == 1 and \
                (s.value.func.value.id in active or _name_in(s.value.args[0], active) or id(s) in force):
            name = s.value.func.value.id
            new = assign(name, gast.BinOp(left=load(name), op=gast.Add(),
                                          right=gast.List(elts=[s.value.args[0]], ctx=gast.Load())),
                         s.lineno)
            lists.add(name)
            out.append(new)
        elif _is_pop(s) and (_pop_list(s) in active or id(s) in force):
            # v = xs.pop() -> v = xs[-1]; xs = xs[:-1]   (value semantics, with adjoints)
            name = _pop_list(s)
            if isinstance(s, gast.Assign):
                out.append(assign(s.targets[0].id, gast.Subscript(value=load(name), slice=gast.Constant(
                    value=-1, kind=None), ctx=gast.Load()), s.lineno))
            out.append(assign(name, gast.Subscript(value=load(name), slice=gast.Slice(
                lower=None, upper=gast.Constant(value=-1, kind=None), step=None), ctx=gast.Load()), s.lineno))
        else:
            inner = active
            if isinstance(s, (gast.FunctionDef, gast.AsyncFunctionDef)):
                # a nested def's own names are not this function's (was: `v[0] = ...` of hw's own v made a new
                # value of v where f had an active v too, so a write through hw's view of its argument was
                # lost: the write checks now leave hw's names to hw's own compilation, fuzz53 R6)
                from .ir import def_own_names, walk_no_defs
                inner = set(active) - (def_own_names(s) - {n for x in walk_no_defs(s) if isinstance(x, gast.Global)
                                                           for n in x.names})
            for field_name in ("body", "orelse"):
                if hasattr(s, field_name) and isinstance(getattr(s, field_name), list):
                    setattr(s, field_name, functionalize(getattr(s, field_name), inner, lists, rt_name,
                                                         force))
            out.append(s)
    return out


def _is_pop(s) -> bool:
    value = s.value if isinstance(s, (gast.Assign, gast.Expr)) else None
    if isinstance(s, gast.Assign) and not isinstance(s.targets[0], gast.Name):
        return False
    return isinstance(value, gast.Call) and isinstance(value.func, gast.Attribute) and \
        value.func.attr == "pop" and isinstance(value.func.value, gast.Name) and not value.args


def _pop_list(s) -> str:
    return s.value.func.value.id


def _name_in(node, names: Set[str]) -> bool:
    return any(n in names for n in loaded_names(node))


def index_value(node, rt_name: str = "rt"):
    """An index AST (slices allowed) as an expression computing the index object."""
    if isinstance(node, gast.Slice):
        parts = [p if p is not None else gast.Constant(value=None, kind=None)
                 for p in (node.lower, node.upper, node.step)]
        return call(f"{rt_name}.index_slice", parts)      # an index (integers): no derivative
    if isinstance(node, gast.Tuple):
        return gast.Tuple(elts=[index_value(e, rt_name) for e in node.elts], ctx=gast.Load())
    return node


def rename_straight_line(fdef: gast.FunctionDef, namer) -> Dict[str, str]:
    """Give each top-level reassignment a new name (``x`` -> ``x_1``); returns final names."""
    current: Dict[str, str] = {}
    defined: Set[str] = set()
    for a in fdef.args.args:
        current[a.id] = a.id
        defined.add(a.id)

    from .ir import walk_no_defs

    def rename_loads(node):
        for n in walk_no_defs(node):
            if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load) and n.id in current:
                n.id = current[n.id]

    def rename_stores_inside(node):
        for n in walk_no_defs(node):
            if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store):
                if n.id in current:
                    n.id = current[n.id]
                else:
                    current[n.id] = n.id
                    defined.add(n.id)

    def def_parts(node):
        """What the enclosing function evaluates of a nested def: defaults and decorators."""
        return [d for d in node.args.defaults + node.args.kw_defaults + node.decorator_list
                if d is not None]

    def rename_loads_and_defaults(node):
        rename_loads(node)
        for n in walk_no_defs(node):
            for child in child_nodes(n):        # (no context or operator leaf is a def)
                if isinstance(child, gast.FunctionDef):
                    for part in def_parts(child):
                        rename_loads(part)

    for s in fdef.body:
        if isinstance(s, gast.FunctionDef):      # its body is its own scope (closure-converted)
            for part in def_parts(s):
                rename_loads(part)
            current[s.name] = s.name
            defined.add(s.name)
        elif isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name):
            rename_loads(s.value)
            name = s.targets[0].id
            if name in defined:
                new = namer.fresh(name)
                s.targets[0].id = new
                current[name] = new
            else:
                current[name] = name
                defined.add(name)
        else:
            rename_loads_and_defaults(s)
            rename_stores_inside(s)
    return current
