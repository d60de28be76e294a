"""Calls of helpers, methods, constructors and callable objects in differentiated code.

A call that a sweep differentiates through becomes a pair ``f_fwd`` / ``f_bwd`` obtained with
``rt.vjp`` (``rt.vjp_method``, ``rt.vjp_init``); its lowering is a frozen :class:`VjpCall`.
Calls with effects (draws, prints, writes into the caller's objects) are wrapped so that
recomputing sweeps replay them.
"""
from __future__ import annotations

import copy
import inspect
import types as _types
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import gast

from .analysis import CallInfo
from .generation import EmitPass
from .global_writes import runs_hidden_code
from .ir import assign, call, const, load, store
from .plans import CallKind
from .parse import copied_user_def
from .plans import NO_ADJOINT
from .templates import assign_pair
from .runtime.support import PARTIAL_UNSET as _PARTIAL_UNSET


# keywords beside ``*xs`` go by position only where the count of positional arguments is known: it was
# taken from the call's text, ``*xs`` one (``_four(*xs, c=v)`` became ``_four(*xs, 0.0, v)``: wrong values)
STARRED_KEYWORD = ("a traced value passed by keyword ({}) beside *-unpacked arguments: sct gives keywords "
                   "their parameter's position, which the unpacking hides; write the unpacked arguments one "
                   "by one (f(args[0], args[1], name=...))")


@dataclass(frozen=True)
class VjpCall:
    statements: List          # forward: get the pair, run the forward
    fwd: str
    bwd: str
    residuals: str
    args: List                # what the forward receives, in order (adjoints come back alike)
    primal: Optional[gast.AST] = None   # the call's value alone (rt.primal_call/primal_method),
                                        # where no sweep differentiates through it (entry mode)
    masks: Tuple = ()         # the mask tuples in the code above (narrowed by refresh_masks)


def _text_format(value) -> bool:
    """``"...".format(...)`` or ``"...".format_map(...)``: a call whose result is text."""
    func = value.func
    return isinstance(func, gast.Attribute) and func.attr in ("format", "format_map") and \
        isinstance(func.value, gast.Constant) and isinstance(func.value.value, str)


class CallLowering(EmitPass):
    """Lowering calls of functions (not ops) that sweeps differentiate: their forward/adjoint
    pairs (rt.vjp ...), or their plain run (rt.primal_call) where no sweep reads their adjoint;
    and the effect wrappers of calls made for their effects.  Each lowering is made once per
    generation (``vjp_calls``)."""

    def __init__(self, gen):
        super().__init__(gen)
        self.vjp_calls: Dict[int, VjpCall] = {}     # id(statement) -> its lowered call
        self.call_statements: Dict[int, gast.Assign] = {}   # id(statement) -> the statement

    def uses_vjp(self, s) -> bool:
        """Is this statement a call differentiated through a generated forward/adjoint pair?"""
        if not (isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name) and
                isinstance(s.value, gast.Call)):
            return False
        if id(s) in self.gen.site_records:
            return True
        if id(s) in self.gen.site_calls:
            return False
        info = self.act.call_info(s.value)
        return info.kind in (CallKind.FUNCTION, CallKind.METHOD) and info.rule is None and \
            self.act.value_active(s.value) and s.targets[0].id in self.act.active

    def vjp_parts(self, s: gast.Assign) -> "VjpCall":
        """How a call to a function (not an op) is differentiated: through its generated pair."""
        if id(s) in self.vjp_calls:
            return self.vjp_calls[id(s)]
        t = s.targets[0].id
        value = s.value
        info = self.act.call_info(value)
        pre: List = []
        keywords = list(value.keywords)
        if id(s) in self.gen.site_calls:            # a gradient differentiated again
            sweep = self.gen.site_calls[id(s)]
            args = [load(p) for p in self.gen.sweeps[sweep].params]
            keywords = []                        # the options were used up by the sweep
            base, maker, maker_args = sweep, "vjp", [load(sweep)]
        elif info.kind == CallKind.METHOD:
            args = [load(info.receiver)] + list(value.args)
            base, maker, maker_args = f"{info.receiver}_{info.method}", "vjp_method", \
                [load(info.receiver), const(info.method)]
        elif isinstance(value.func, gast.Name) and value.func.id in self.act.active:
            # calling an object that holds traced values (a layer): its __call__, with it first
            receiver = value.func.id
            args = [load(receiver)] + list(value.args)
            base, maker, maker_args = receiver, "vjp_method", [load(receiver), const("__call__")]
        elif isinstance(info.obj, type) and not (issubclass(info.obj, tuple) and
                                                 hasattr(info.obj, "_fields")):
            # building an object of the user's class
            new = self.namer.fresh(t + "_new")
            self.gen.forward_names.add(new)
            pre.append(assign(new, call(self.rt("new_object"), [value.func])))
            args = [load(new)] + list(value.args)
            base, maker, maker_args = info.obj.__name__, "vjp_init", [value.func]
        else:
            args = list(value.args)
            name = value.func.attr if isinstance(value.func, gast.Attribute) else \
                getattr(value.func, "id", "call")
            base, maker, maker_args = name, "vjp", [value.func]
        value_call = maker == "vjp" and info.obj is None and isinstance(value.func, gast.Name) and \
            id(s) not in self.gen.site_calls
        if any(self.act.is_active(k.value) or not self.act.value_real(k.value) for k in keywords) and \
                (maker == "vjp_method" and info.method != "_replace" or value_call):
            # a method (or a function value) given a traced value by keyword: rt.keywords_method(obj,
            # name, count, names) is its function taking the receiver (the value), the positional
            # arguments, then the keywords' values, by position
            if any(k.arg is None for k in keywords):
                self.fail(s, "a traced value passed by keyword to a method or a function value, with ** as "
                          "well: sct does not differentiate that yet; pass the values by name", "keyword argument")
            if any(isinstance(a, gast.Starred) for a in args):     # (its count of positional arguments)
                self.fail(s, STARRED_KEYWORD.format(", ".join(k.arg for k in keywords)), "keyword argument")
            names = gast.Tuple(elts=[const(k.arg) for k in keywords], ctx=gast.Load())
            # the traced ones: refused at this line where they would reach the function's **kwargs
            traced = gast.Tuple(elts=[const(k.arg) for k in keywords if self.act.is_active(k.value)],
                                ctx=gast.Load())
            if value_call:
                maker_args, args = [value.func, const(None)], [value.func] + args
            maker = "vjp"
            maker_args = [call(self.rt("keywords_method"), [maker_args[0], maker_args[1],
                                                            const(len(args) - 1), names, traced])]
            args = args + [k.value for k in keywords]
            keywords = []
        elif any(self.act.is_active(k.value) for k in keywords) and not _text_format(value):
            # (``"{a}".format(a=x)``: text, no derivative; its keywords passed as they are)
            args, keywords, by_position = self.keywords_to_positions(s, info, args, keywords)
            if by_position:         # traced keyword-only arguments: rt.positional(f) takes them by position
                maker_args = [call(self.rt("positional"), maker_args)]
        elif _complex_keywords(self.act, info, args, keywords):
            # a value not proven real by keyword: to its position, so that the helper is compiled
            # for its kind (a keyword's was its default's: ``helper(x, c=1j)`` compiled for c=None,
            # taken for real, dropped the conj of its rule: a silently wrong gradient)
            args, keywords, _ = self.keywords_to_positions(s, info, args, keywords)
        fwd = self.namer.fresh(base + "_fwd")
        bwd = self.namer.fresh(base + "_bwd")
        residuals = self.namer.fresh(t + "_residuals")
        self.gen.forward_names |= {fwd, bwd, residuals}
        mask = self.mask(args, s)
        if any(isinstance(a, gast.Starred) for a in args):   # f(*xs): one flag per item of xs
            mask = call(self.rt("starred_mask"), [mask, self.starred_flags(args)] +
                        [a.value if isinstance(a, gast.Starred) else a for a in args])
        pair = gast.Assign(targets=[gast.Tuple(elts=[store(fwd), store(bwd)], ctx=gast.Store())],
                           value=call(self.rt(maker), maker_args + [mask] + args, keywords),
                           type_comment=None)
        run = assign_pair(t, residuals, call(fwd, args, keywords))
        primal = None
        masks = (mask,)
        if maker in ("vjp", "vjp_method") and id(s) not in self.gen.site_calls:
            masks += (copy.deepcopy(mask),)
            primal = call(self.rt("primal_call" if maker == "vjp" else "primal_method"),
                          maker_args + [masks[-1]] + args, keywords)
        parts = VjpCall(pre + [pair, run], fwd, bwd, residuals, args, primal,
                        tuple(m.args[0] if isinstance(m, gast.Call) else m for m in masks))
        self.vjp_calls[id(s)] = parts
        self.call_statements[id(s)] = s
        return parts

    def refresh_masks(self) -> None:
        """The pairs' masks under the generation's read plan, now that it is known (the
        first generation made them before: every active argument read)."""
        for key, parts in self.vjp_calls.items():
            flags = self.mask(parts.args, self.call_statements[key]).elts
            for node in parts.masks:
                node.elts = copy.deepcopy(flags)

    def keywords_to_positions(self, s, info: CallInfo, args: List, keywords: List):
        """Differentiable values passed by keyword go to their parameter's position (adjoints
        come back by position), using the callee's signature known when compiling."""
        import inspect
        callee = info.obj.__init__ if isinstance(info.obj, type) else info.obj
        if isinstance(info.obj, type) and issubclass(info.obj, tuple) and hasattr(info.obj, "_fields"):
            callee = info.obj            # a namedtuple: built by its __new__ (its signature: the fields)
        names = ", ".join(k.arg for k in keywords if self.act.is_active(k.value))
        advice = (f"pass {names} positionally: sct differentiates the positional parameters "
                  "of functions it only meets at run time")
        import dataclasses as _dataclasses
        if callee is _dataclasses.replace:
            self.fail(s, "dataclasses.replace with traced values is not supported yet: build the new "
                      "instance with its class, e.g. P(w=new_w, b=p.b)", "dataclasses.replace")
        if info.kind == CallKind.METHOD and info.method == "_replace":
            # a namedtuple's _replace takes keywords only: "pass it positionally" could not be followed
            self.fail(s, "a namedtuple's _replace with traced values is not supported yet: build the new "
                      "tuple with its class, e.g. P(p.w, new_b)", "_replace")
        if not callable(callee) or info.kind != CallKind.FUNCTION:
            self.fail(s, advice, "keyword argument")
        if any(isinstance(a, gast.Starred) for a in args):     # (was: "does not match: missing 'b'")
            self.fail(s, STARRED_KEYWORD.format(names), "keyword argument")
        try:
            # (a wrapper's own parameters unless it only passes them on: follows_wrapped)
            signature = inspect.signature(callee, follow_wrapped=follows_wrapped(callee))
            bound = signature.bind(*args, **{k.arg: k.value for k in keywords})
        except (TypeError, ValueError) as exc:
            text = str(exc)         # (in Python's words: "got multiple values for argument 'w'")
            self.fail(s, f"this call does not match {getattr(callee, '__qualname__', callee)}: "
                         f"{'got ' if text.startswith('multiple values') else ''}{text}", "call")
        params = list(signature.parameters.values())
        kwonly = [p for p in params if p.kind == p.KEYWORD_ONLY]
        by_position = any(p.name in bound.arguments and self.act.is_active(bound.arguments[p.name])
                          for p in kwonly)
        if by_position:
            # the keyword-only parameters follow the others, as rt.positional(f) takes them
            name = getattr(callee, "__qualname__", "the function")
            if type(callee) is not _types.FunctionType or getattr(callee, "__sct_closure__", None) is not None \
                    or isinstance(info.obj, type):
                self.fail(s, f"a traced value passed to keyword-only parameter "
                          f"{', '.join(p.name for p in kwonly if p.name in bound.arguments)} of {name}: "
                          "sct differentiates keyword-only parameters of Python functions only; "
                          "make it an ordinary parameter", "keyword argument")
            if any(p.kind == p.VAR_POSITIONAL for p in params):
                self.fail(s, f"a traced value passed to a keyword-only parameter of {name}, which also "
                          "takes *args: sct does not differentiate that yet; make the keyword-only "
                          "parameter an ordinary one, or drop *args", "keyword argument")
            params = [p for p in params if p.kind != p.KEYWORD_ONLY and p.kind != p.VAR_KEYWORD] + kwonly + \
                [p for p in params if p.kind == p.VAR_KEYWORD]
        positional: List = []
        rest: List = []
        last = max(i for i, p in enumerate(params) if p.name in bound.arguments)
        for i, p in enumerate(params):
            if p.kind == p.KEYWORD_ONLY and not by_position:
                if p.name in bound.arguments:
                    if self.act.is_active(bound.arguments[p.name]):
                        self.fail(s, f"{p.name} is a keyword-only parameter: make it an ordinary "
                                  "parameter to differentiate with respect to it", "keyword argument")
                    rest.append(gast.keyword(arg=p.name, value=bound.arguments[p.name]))
                continue
            if p.kind == p.VAR_KEYWORD:
                caught = [k for k, v in bound.arguments.get(p.name, {}).items() if self.act.is_active(v)]
                if caught:
                    fname = getattr(callee, "__name__", "the function")
                    self.fail(s, f"{', '.join(caught)} reach{'es' if len(caught) == 1 else ''} {fname}() through "
                              f"**{p.name}: sct differentiates a helper's named parameters; name "
                              f"{'it' if len(caught) == 1 else 'them'} in its signature (def {fname}("
                              f"{', '.join(caught)}, **{p.name})), or take one dict (def {fname}({p.name}), "
                              f"called as {fname}({{{', '.join(repr(k) + ': ...' for k in caught)}}}))",
                              "keyword argument")
                rest += [gast.keyword(arg=k, value=v) for k, v in bound.arguments.get(p.name, {}).items()]
                continue
            if p.kind not in (p.POSITIONAL_OR_KEYWORD, p.POSITIONAL_ONLY, p.KEYWORD_ONLY):
                self.fail(s, advice, "keyword argument")
            if i > last:
                continue
            if p.name in bound.arguments:
                positional.append(bound.arguments[p.name])
            elif isinstance(p.default, (int, float, complex, str, bool, type(None))):
                positional.append(const(p.default))
                self.guard_default(callee, p)
            elif by_position and p.default is _PARTIAL_UNSET:     # a partial's keyword the call leaves out
                positional.append(self.rt("PARTIAL_UNSET"))
            elif by_position:
                self.fail(s, f"{p.name} of {getattr(callee, '__qualname__', callee)} is left to its default "
                          f"({p.default!r}) while a later parameter takes a traced value by keyword: "
                          f"pass {p.name} too", "keyword argument")
            else:
                self.fail(s, advice, "keyword argument")
        return positional, rest, by_position

    def guard_default(self, callee, p) -> None:
        """The code holds ``p``'s default as it is now: compiled again once ``callee``'s defaults
        change (``h.__defaults__ = ...``, ``h.__kwdefaults__['b'] = ...`` between calls)."""
        from .analysis import Guard
        from .options import _Lookup
        fn = getattr(callee, "__func__", callee)
        fn = inspect.unwrap(fn) if forwards_only(fn) else fn      # (a wrapper's: the wrapped function's)
        if not hasattr(fn, "__defaults__"):
            return
        value = p.default

        def now(fn=fn, name=p.name, kind=p.kind):
            if kind == p.KEYWORD_ONLY:
                return (fn.__kwdefaults__ or {})[name]
            code = fn.__code__
            defaults = fn.__defaults__ or ()
            index = code.co_varnames.index(name) - (code.co_argcount - len(defaults))
            if not 0 <= index < len(defaults):
                raise LookupError(name)          # no default now: compiled again (the call refuses)
            return defaults[index]
        key = f"__sct_default_{len(self.gen.resolver.guards)}_{p.name}"
        self.gen.resolver.guards[key] = Guard(_Lookup(now), key, value)

    def effect_call(self, value: gast.Call, inactive: bool, statement: bool):
        """``rt.effect(f, ...)`` for a call with an effect (a random draw, a print, I/O, a
        write into the caller's object): run once, replayed where code is recomputed.
        ``rt.maybe_effect`` where only the run can tell; None for other calls."""
        from .runtime.effects import effectful, _user_code
        from .analysis import Unresolved, _MISSING
        if not inactive:
            return None
        info = self.act.call_info(value)
        if info.kind in (CallKind.SITE, CallKind.STOP, CallKind.CREATE):
            return None
        func = value.func
        target = self.gen.resolver.resolve(func)
        wrapper = None
        if target is not Unresolved:
            if target is not _MISSING:
                try:
                    if effectful(target):
                        wrapper = "effect"
                    elif info.kind == CallKind.FUNCTION and _user_code(target) or runs_hidden_code(target):
                        # run once: replayed where code is recomputed (runs_hidden_code: a partial, lru_cache or
                        # vectorize of the user's function, a frompyfunc ufunc; was: run as it is, red54c W5)
                        wrapper = "user_call"
                except Exception:
                    wrapper = None
        elif isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name) and info.rule is None:
            receiver = func.value.id
            if statement and (receiver in self.gen.params or receiver not in self.gen.forward_names):
                wrapper = "effect"        # a call for its effect on the caller's object
            elif str(self.gen.filename).startswith("<sct-generated") and not copied_user_def(self.gen.resolver.fn):
                # generated code differentiated again: its own calls on its locals (``tape.append(k)``)
                # run as they are, as in the code it was made from (the user's own calls there are
                # rt.maybe_effect(...) already): a replay's log has no entries for them
                wrapper = None
            else:
                wrapper = "maybe_effect"
        elif isinstance(func, gast.Name) and info.rule is None and func.id not in self.act.active:
            # a function value: only the run can tell (what it changes too: rt.unnamed_call)
            wrapper = "maybe_effect" if str(self.gen.filename).startswith("<sct-generated") and \
                not copied_user_def(self.gen.resolver.fn) else "unnamed_call"
        if wrapper is None:
            return None
        return call(self.rt(wrapper), [func] + list(value.args), value.keywords)

    def mask(self, args, s=None) -> gast.Tuple:
        """Which arguments the pair differentiates: True for the active ones whose adjoints some
        sweep reads (the sweeps record them, see ``Contributions``; ``refresh_masks`` narrows the
        masks made before that is known), every active one before; NO_ADJOINT for an active one no sweep reads (the data of
        a loss): still traced, but the pair's adjoint skips it."""
        args = [a.value if isinstance(a, gast.Starred) else a for a in args]
        plan = self.gen.read_plan
        reads = plan.get(id(s)) if plan is not None and s is not None else None
        flags = []
        for i, a in enumerate(args):
            active = isinstance(a, gast.Name) and a.id in self.act.active
            flags.append(const(NO_ADJOINT if active and reads is not None and i not in reads else active))
        return gast.Tuple(elts=flags, ctx=gast.Load())

    def starred_flags(self, args) -> gast.Tuple:
        return gast.Tuple(elts=[const(isinstance(a, gast.Starred)) for a in args], ctx=gast.Load())


def follows_wrapped(fn) -> bool:
    """``inspect.signature``'s follow_wrapped for ``fn``: a Python function with ``__wrapped__`` (a
    decorator's wrapper) binds by its own parameters unless it only passes them on (forwards_only);
    anything else as inspect reads it.  (Was: the wrapped function's signature, functools.wraps', the
    keywords passed by position: a wrapper reading kwargs saw none, 71 where Python gives 146.)"""
    if type(fn) is not _types.FunctionType or getattr(fn, "__wrapped__", None) is None:
        return True
    return forwards_only(fn)


def forwards_only(fn) -> bool:
    """Is ``fn`` a decorator's wrapper ``def wrapper(*args, **kwargs)`` (functools.wraps: its
    ``__wrapped__``) whose code reads ``args`` and ``kwargs`` only to pass them on,
    ``f(*args, **kwargs)``, to the function it wraps?  Then a call binds its keywords as the wrapped
    function's signature says, whether they pass through kwargs or by position; a wrapper reading them
    (``"x" in kwargs``, ``len(args)``) sees the call as written."""
    wrapped = getattr(fn, "__wrapped__", None)
    if type(fn) is not _types.FunctionType or wrapped is None or fn.__closure__ is None:
        return False
    key = (id(fn.__code__), id(wrapped))
    known = _FORWARDS.get(key)
    if known is not None and known[0] is fn.__code__ and known[1] is wrapped:
        return known[2]
    if len(_FORWARDS) >= 512:
        _FORWARDS.clear()
    found = _forwards_only(fn, wrapped)
    _FORWARDS[key] = (fn.__code__, wrapped, found)
    return found


_FORWARDS: dict = {}        # (id(code), id(wrapped)) -> (code, wrapped, forwards_only)


def _forwards_only(fn, wrapped) -> bool:
    import ast
    code = fn.__code__
    if code.co_argcount or code.co_kwonlyargcount or code.co_posonlyargcount or \
            not code.co_flags & inspect.CO_VARARGS or not code.co_flags & inspect.CO_VARKEYWORDS:
        return False
    cells = {}
    for name, cell in zip(code.co_freevars, fn.__closure__):
        try:
            cells[name] = cell.cell_contents
        except ValueError:
            return False
    try:
        from .parse import function_ast
        fdef = function_ast(fn)[0]
    except Exception:
        return False
    fdef = gast.gast_to_ast(fdef)
    star, double = fdef.args.vararg.arg, fdef.args.kwarg.arg
    passed = set()
    for node in ast.walk(fdef):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)) and node is not fdef:
            return False
        if isinstance(node, ast.Name) and node.id in ("locals", "vars", "eval", "exec", "globals") or \
                isinstance(node, ast.Attribute) and node.attr in ("_getframe", "currentframe", "f_locals"):
            return False        # (what reads the arguments without naming them)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and \
                cells.get(node.func.id, None) is wrapped and len(node.args) == 1 and len(node.keywords) == 1 and \
                isinstance(node.args[0], ast.Starred) and isinstance(node.args[0].value, ast.Name) and \
                node.args[0].value.id == star and node.keywords[0].arg is None and \
                isinstance(node.keywords[0].value, ast.Name) and node.keywords[0].value.id == double:
            passed.update((id(node.args[0].value), id(node.keywords[0].value)))
    if not all(id(node) in passed for node in ast.walk(fdef)
               if isinstance(node, ast.Name) and node.id in (star, double)):
        return False
    # (the function it wraps a wrapper too: it must pass them on as well, inspect.signature follows both)
    return getattr(wrapped, "__wrapped__", None) is None or forwards_only(wrapped)


def _complex_keywords(act, info: CallInfo, args: List, keywords: List) -> bool:
    """Does a call of a Python function take by keyword a value not proven real, for an
    ordinary parameter that ``keywords_to_positions`` can put in its position?"""
    import inspect
    fn = info.obj
    if isinstance(fn, type) and not issubclass(fn, tuple) and \
            type(fn.__dict__.get("__init__", getattr(fn, "__init__", None))) is _types.FunctionType:
        fn = fn.__init__                # (args: the new object first)
    if info.kind != CallKind.FUNCTION or type(fn) is not _types.FunctionType or \
            getattr(fn, "__sct_closure__", None) is not None or not keywords or \
            any(k.arg is None for k in keywords) or any(isinstance(a, gast.Starred) for a in args) or \
            all(act.value_real(k.value) for k in keywords):
        return False
    try:
        signature = inspect.signature(fn, follow_wrapped=follows_wrapped(fn))
        bound = signature.bind(*args, **{k.arg: k.value for k in keywords})
    except (TypeError, ValueError):
        return False
    params = list(signature.parameters.values())
    last = max(i for i, p in enumerate(params) if p.name in bound.arguments)
    return all(p.kind in (p.POSITIONAL_OR_KEYWORD, p.POSITIONAL_ONLY, p.KEYWORD_ONLY) and
               (p.name in bound.arguments or p.kind == p.KEYWORD_ONLY or
                isinstance(p.default, (int, float, complex, str, bool, type(None))))
               for p in params[:last + 1])
