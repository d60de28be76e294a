"""``functools.partial(f, a, k=v)`` made in differentiated code: the nested function it is.

A partial freezes ``f`` and the values of its arguments when it is made, and calling it calls
``f`` with the frozen positional arguments first, then the call's, and the frozen keywords
unless the call names them again.  Where ``f`` is a Python function the compiler can see (a
global or module attribute, not a local of the function), ``p = partial(f, a, k=v)`` becomes

    p_a0 = a                      # the frozen values, read once, where the partial is made
    p_k = v
    p_unset = rt.PARTIAL_UNSET
    def p(<the partial's own signature, as inspect.signature(partial) gives it>, *, k=p_unset):
        if k is p_unset:
            k = p_k
        return f(p_a0, <its positional parameters>, k=k)

so its frozen values are captured values of a nested function (``sct/closures.py``: the
derivatives flow back to ``a`` and ``v``; a call in the function passes them directly), and a
call of it binds its arguments exactly as the partial would (a frozen keyword turns the
parameters after it keyword-only, so a surplus positional argument is Python's TypeError too).
Anything else (``f`` a local value or not a Python function, ``*``/``**`` in the partial,
defaults that are not literals, ``f`` taking ``**kwargs``) is left as written: a partial value
that generated code calls (``rt.vjp``) and that the run time reads as its function with the
frozen values constant (a partial passed in as an argument: its values are constants, as a
lambda's captured ones).
"""
from __future__ import annotations

import ast
import copy
import functools
import inspect
import types
from typing import Dict, List, Optional, Set

import gast
import numpy as np

from .ir import assign, load, walk_nodes

_LITERALS = (int, float, complex, str, bytes, bool, type(None))


def _literal_string(node: gast.Call, name: str) -> Optional[str]:
    """The literal string the partial ``node`` freezes its keyword ``name`` to (None: another value)."""
    value = next((k.value for k in node.keywords if k.arg == name), None)
    return value.value if isinstance(value, gast.Constant) and isinstance(value.value, str) else None


def _chain(node) -> Optional[List[str]]:
    """``a.b.c`` as ["a", "b", "c"] (None: not a name chain)."""
    parts = []
    while isinstance(node, gast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, gast.Name):
        return None
    parts.append(node.id)
    return parts[::-1]


def _default_of(f, name: str, function_name: str) -> Optional[str]:
    """The expression of ``f``'s default for its parameter ``name`` (``f.__defaults__[i]`` or
    ``f.__kwdefaults__["name"]``); None where it has none."""
    code = f.__code__
    positional = code.co_varnames[:code.co_argcount]
    if name in positional:
        defaults = f.__defaults__ or ()
        i = positional.index(name) - (len(positional) - len(defaults))
        return f"{function_name}.__defaults__[{i}]" if 0 <= i < len(defaults) else None
    if name in (f.__kwdefaults__ or {}):
        return f"{function_name}.__kwdefaults__[{name!r}]"
    return None


def _frozen_defaults(norm, fdef, temps: List[str], shown: str) -> None:
    """The frozen values' names made parameters of the nested function ``fdef``, each its own default:
    read where the partial is made, as a partial freezes them (was: read from the enclosing function
    when called, so ``[partial(act, a=a) for a in (0.1, 0.2)]`` called act with a=0.2 twice).  They
    follow its positional parameters (a traced default is passed by position), after one more whose
    default is rt.PARTIAL_UNSET: a surplus positional argument lands there, Python's TypeError; its
    keyword-only parameters with defaults (a frozen keyword, ``k=p_unset``) come after that one too,
    so that only a keyword reaches them, as before.  A function with ``*args`` keeps reading them
    from the enclosing function."""
    args = fdef.args
    if args.vararg is not None or not temps:
        return
    guard = norm.namer.fresh(fdef.name + "_surplus")
    def unset():
        return gast.Attribute(value=load(norm.rt_name), attr="PARTIAL_UNSET", ctx=gast.Load())
    required = [a.id for a, d in zip(args.kwonlyargs, args.kw_defaults) if d is None]
    args.args += [gast.Name(id=guard, ctx=gast.Param(), annotation=None, type_comment=None)] + args.kwonlyargs + \
        [gast.Name(id=t, ctx=gast.Param(), annotation=None, type_comment=None) for t in temps]
    args.defaults += [unset()] + [unset() if d is None else d for d in args.kw_defaults] + [load(t) for t in temps]
    args.kwonlyargs, args.kw_defaults = [], []
    checks = [f"if {guard} is not {norm.rt_name}.PARTIAL_UNSET:\n"
              f"    raise TypeError({(shown + ' was given more positional arguments than it takes')!r})\n"]
    checks += [f"if {a} is {norm.rt_name}.PARTIAL_UNSET:\n"        # (a keyword-only one without default)
               f"    raise TypeError({(shown + ' was not given its keyword argument ' + a)!r})\n" for a in required]
    fdef.body[0:0] = gast.parse("".join(checks)).body


def _local_signature(fdef, name: str):
    """A function with the signature of the one ``def name`` nested in ``fdef`` (where the function binds
    ``name`` by that def only, undecorated, its defaults literals), else None."""
    defs = [d for d in walk_nodes(fdef) if isinstance(d, (gast.FunctionDef, gast.AsyncFunctionDef, gast.ClassDef,
                                                          gast.Lambda)) and getattr(d, "name", None) == name]
    if len(defs) != 1 or not isinstance(defs[0], gast.FunctionDef) or defs[0].decorator_list or defs[0] is fdef or \
            any(isinstance(n, gast.Name) and n.id == name and not isinstance(n.ctx, gast.Load) or
                isinstance(n, (gast.Global, gast.Nonlocal)) and name in n.names for n in walk_nodes(fdef)):
        return None
    args = copy.deepcopy(defs[0].args)
    if not all(isinstance(d, gast.Constant) for d in args.defaults + [k for k in args.kw_defaults if k is not None]):
        return None
    for a in args.posonlyargs + args.args + args.kwonlyargs + [args.vararg, args.kwarg]:
        if a is not None:
            a.annotation = None
    stub = gast.FunctionDef(name=name, args=args, body=[gast.Pass()], decorator_list=[], returns=None,
                            type_comment=None, type_params=[])
    tree = gast.gast_to_ast(gast.Module(body=[stub], type_ignores=[]))
    ast.fix_missing_locations(tree)
    namespace: Dict = {}
    try:
        exec(compile(tree, "<sct partial signature>", "exec"), namespace)
    except Exception:
        return None
    return namespace[name]


class PartialRewriter:
    """Resolves the names of one function (its globals, closure cells, builtins) for the
    normalizer, and writes the nested function of each partial it can see through."""

    def __init__(self, fn):
        self.fn = fn
        self.used: Set[str] = set()       # global names whose values the rewrite read (guarded)
        self.functions: Set[str] = set()  # of those, the functions whose signatures it read
        # names the normalizer made for rt.generator_items(gen), each with gen's expression (sct/normalize_generators.py)
        self.generator_items: Dict[str, gast.expr] = {}

    def resolve(self, node, local_root, classes: bool = False) -> object:
        """What the chain of names ``node`` refers to (a global, a closure cell, a builtin, a module's
        attribute; with ``classes``, a class's attribute too), or None."""
        parts = _chain(node)
        if parts is None or local_root(node):
            return None
        fn = self.fn
        code = fn.__code__
        if parts[0] in code.co_freevars and fn.__closure__:
            try:
                value = fn.__closure__[code.co_freevars.index(parts[0])].cell_contents
            except ValueError:
                return None
        elif parts[0] in fn.__globals__:
            value = fn.__globals__[parts[0]]
        else:
            builtins = fn.__globals__.get("__builtins__", {})
            builtins = builtins if isinstance(builtins, dict) else vars(builtins)
            if parts[0] not in builtins:
                return None
            value = builtins[parts[0]]
        for attr in parts[1:]:
            if not isinstance(value, types.ModuleType) and not (classes and isinstance(value, type)):
                return None
            value = getattr(value, attr, None)
        return value

    def generator_items_name(self, namer, label: str, func) -> str:
        """The name generated code calls ``rt.generator_items(<func>)`` by (one per expression)."""
        for name, known in self.generator_items.items():
            if _chain(known) == _chain(func):
                return name
        name = namer.fresh_global(label.split(".")[-1] + "_items")
        self.generator_items[name] = func
        return name

    def rewrite(self, norm, node: gast.Call, out: List, hint: str, name: Optional[str] = None):
        """The name of the nested function ``node`` (a call of functools.partial) is, its
        statements emitted into ``out``; None where it is not one this module writes.  ``name``:
        the name it is assigned to (the def gets it, so calls of it are direct)."""
        if getattr(node, "_sct_partial_kept", False) or \
                self.resolve(node.func, norm.local_root) is not functools.partial or not node.args or \
                any(isinstance(a, gast.Starred) for a in node.args) or \
                any(k.arg is None for k in node.keywords):
            return None
        target = node.args[0]
        if isinstance(target, gast.Lambda):
            return self._rewrite_lambda(norm, node, out, hint, name)
        f = self.resolve(target, norm.local_root)
        local = isinstance(target, gast.Name) and norm.local_root(target)
        if local:
            # partial(act, a=0.1) of ``def act(z, a)`` written in the function: the same nested function,
            # calling the def by its name (was: kept a partial value, its frozen values constants: refused
            # where they were traced, ``partial(lin, W, b)``)
            f = _local_signature(norm.fdef, target.id)
        if isinstance(f, np.ufunc) and _chain(target) is not None and not node.keywords and \
                len(node.args) - 1 < f.nin:
            # partial(np.multiply, w): a ufunc's positional operands, the frozen ones first (was: "no
            # derivative rule for functools.partial", red team red50)
            return self._rewrite_star(norm, node, out, hint, name, ".".join(_chain(target)), f.nin)
        if not isinstance(f, types.FunctionType) or _chain(target) is None:
            return None
        frozen = node.args[1:]
        keywords = [k.arg for k in node.keywords]
        try:
            marker = object()
            sig = inspect.signature(functools.partial(f, *[marker] * len(frozen),
                                                      **{k: marker for k in keywords}))
            named = inspect.signature(f).parameters
        except (TypeError, ValueError):
            return None
        if any(p.kind in (p.VAR_KEYWORD, p.POSITIONAL_ONLY) for p in named.values()) or \
                any(k not in named or named[k].kind == inspect.Parameter.POSITIONAL_ONLY for k in keywords):
            return None
        function_name = ".".join(_chain(target))
        base = hint if hint.isidentifier() else "partial"
        name = name or norm.namer.fresh(base + "_partial")
        temps = [norm.namer.fresh(f"{name}_arg") for _ in frozen]
        kw_temps = {k: norm.namer.fresh(f"{name}_{k}") for k in keywords}
        unset = norm.namer.fresh(f"{name}_unset")
        taken = set(temps) | set(kw_temps.values()) | {unset, _chain(target)[0], name}
        if any(p in taken for p in sig.parameters):
            return None
        params, body, call_args, call_keywords = [], [], list(temps), []
        kw_defaults: Dict[str, tuple] = {}         # parameter -> (its temp, f's default as an expression)
        star = False
        for p in sig.parameters.values():
            if p.kind == p.VAR_POSITIONAL:
                params.append("*" + p.name)
                call_args.append("*" + p.name)
                star = True
                continue
            default = ""
            if p.name in kw_temps and _literal_string(node, p.name):
                # a frozen literal string (DataFormat="CB", Padding="same"): the parameter's default, as
                # the partial's is (a call may name it again), read by the format pass as written
                default = "=" + repr(_literal_string(node, p.name))
            elif p.name in kw_temps:
                default = "=" + unset
                body.append(f"    if {p.name} is {unset}:\n        {p.name} = {kw_temps[p.name]}\n")
            elif p.default is not p.empty:
                if type(p.default) in _LITERALS:
                    default = "=" + repr(p.default)
                else:
                    # a default that is not a literal (act=np.tanh, a module-level array): f's own, read
                    # where the partial is made (f.__defaults__ is guarded: replacing it recompiles)
                    where = _default_of(f, p.name, function_name)
                    if where is None:
                        return None
                    default = "=" + unset
                    kw_defaults[p.name] = (norm.namer.fresh(f"{name}_{p.name}_default"), where)
                    body.append(f"    if {p.name} is {unset}:\n        {p.name} = {kw_defaults[p.name][0]}\n")
            if p.kind == p.KEYWORD_ONLY:
                if not star:
                    params.append("*")
                    star = True
            if p.kind == p.KEYWORD_ONLY and (named[p.name].kind == p.KEYWORD_ONLY or call_keywords):
                call_keywords.append(f"{p.name}={p.name}")
            else:
                call_args.append(p.name)    # (f's own positional parameter, frozen by keyword: by position)
            params.append(p.name + default)
        source = (f"def {name}({', '.join(params)}):\n" + "".join(body) +
                  f"    return {function_name}({', '.join(call_args + call_keywords)})\n")
        fdef = gast.parse(source).body[0]
        # (f's own defaults, read where the partial is made, are the same each time: read when called)
        _frozen_defaults(norm, fdef, temps + [t for k, t in kw_temps.items() if not _literal_string(node, k)],
                         f"functools.partial({function_name}, ...)")
        for n in gast.walk(fdef):
            if hasattr(n, "lineno") or isinstance(n, (gast.stmt, gast.expr)):
                n.lineno = norm.line
                n.col_offset = getattr(node, "col_offset", 0)
        fdef._sct_partial = function_name
        fdef._sct_shown = f"{name} = functools.partial({function_name}, ...)"    # (messages name the user's)
        for t, a in zip(temps, frozen):
            norm.assign_to(t, a, out)
        for k in node.keywords:
            norm.assign_to(kw_temps[k.arg], k.value, out)
        for temp, where in kw_defaults.values():
            norm.assign_to(temp, gast.parse(where, mode="eval").body, out)
        norm.emit(out, assign(unset, gast.Attribute(value=load(norm.rt_name), attr="PARTIAL_UNSET",
                                                    ctx=gast.Load())))
        norm.emit(out, fdef)
        self.used |= {_chain(node.func)[0]} | (set() if local else {_chain(target)[0]})
        if len(_chain(target)) == 1 and not local:
            self.functions.add(_chain(target)[0])
        return load(name)

    def _emit_def(self, norm, node, out, name, source: str, frozen, parsed_body=None):
        """The nested function ``source`` (its body ``parsed_body`` where given) emitted after the frozen
        values' temps; its name."""
        fdef = gast.parse(source).body[0]
        if parsed_body is not None:
            fdef.body = parsed_body
        _frozen_defaults(norm, fdef, [t for t, _ in frozen], "functools.partial(...)")
        for n in gast.walk(fdef):
            if hasattr(n, "lineno") or isinstance(n, (gast.stmt, gast.expr)):
                n.lineno = norm.line
                n.col_offset = getattr(node, "col_offset", 0)
        fdef._sct_shown = f"{name} = functools.partial(...)"    # (messages name the user's)
        for t, a in frozen:
            norm.assign_to(t, a, out)
        norm.emit(out, fdef)
        self.used |= {_chain(node.func)[0]}
        return load(name)

    def _rewrite_star(self, norm, node, out, hint, name, function_name, count):
        """``partial(np.multiply, w)``: ``def p(x): return np.multiply(p_arg, x)`` (the ufunc's other
        operands, ``count`` in all, by position)."""
        base = hint if hint.isidentifier() else "partial"
        name = name or norm.namer.fresh(base + "_partial")
        temps = [norm.namer.fresh(f"{name}_arg") for _ in node.args[1:]]
        args = [norm.namer.fresh(f"{name}_x") for _ in range(count - len(temps))]
        source = f"def {name}({', '.join(args)}):\n    return {function_name}({', '.join(temps + args)})\n"
        self.used |= {_chain(node.args[0])[0]}
        return self._emit_def(norm, node, out, name, source, list(zip(temps, node.args[1:])))

    def _rewrite_lambda(self, norm, node, out, hint, name):
        """``partial(lambda a, b: e, w)``: ``def p(b): a = p_arg; return e`` (the lambda's parameters
        plain positional ones without defaults; no frozen keywords); None for any other lambda."""
        lam = node.args[0]
        spec = lam.args
        frozen = node.args[1:]
        if node.keywords or spec.vararg or spec.kwarg or spec.kwonlyargs or spec.defaults or \
                getattr(spec, "posonlyargs", None) or len(frozen) > len(spec.args) or \
                not all(isinstance(a, gast.Name) for a in spec.args):
            return None
        base = hint if hint.isidentifier() else "partial"
        name = name or norm.namer.fresh(base + "_partial")
        temps = [norm.namer.fresh(f"{name}_arg") for _ in frozen]
        params = [a.id for a in spec.args]
        if name in params:
            return None
        body = [assign(p, load(t)) for p, t in zip(params, temps)]
        body.append(gast.Return(value=lam.body))
        source = f"def {name}({', '.join(params[len(frozen):])}):\n    pass\n"
        return self._emit_def(norm, node, out, name, source, list(zip(temps, frozen)), body)
