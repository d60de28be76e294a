"""Generator functions (``def gen(u): ... yield v``), differentiated as the lists of their items.

A caller's ``gen(a)`` (``gen`` a generator function the compiler can see: a global, a closure
cell or a module's attribute, not a local value) reads ``(v for v in gen_items(a))``, where
``gen_items`` is ``generator_items(gen)`` (below): ``gen``'s code, whose tree
sct reads with its items gathered into a list (``gather_items``, kept on it as ``__sct_items_tree__``).  The caller's value is then a
generator expression over that list, walked once, with the checks every generator expression
has (sct/normalize_loops.py: walked twice, ``next()``, a loop whose body changes what it reads).

Python computes a generator's items as they are asked for; sct computes them all when the call
is made.  The two agree where the generator changes nothing its caller sees and draws no random
numbers (``callee_effects._pure``, ``normalize_loops._draws``) and ends (a ``while True`` without
a way out is refused): the caller checks the first two before it reads the call this way, and
refuses the call where they do not hold.
"""
from __future__ import annotations

import copy
import inspect
import types
from typing import List

import gast

from .errors import CompileError
from .runtime.origins import module_top, name_top
from .global_writes import rebound_global, writer_name
from .ir import assign, call, dotted_name, load, store, walk_no_defs, walk_nodes


_GENERATOR_ITEMS: dict = {}     # id(fn) -> (code, derived, fn, defaults, keyword defaults)


def generator_items(fn):
    """The generator function ``fn`` as sct differentiates it: a function of ``fn``'s globals, defaults
    and closure whose code is ``fn``'s with its items gathered into a list (``gather_items``), compiled
    from that tree (called as Python calls it, it returns the list of ``fn``'s items: what a second
    derivative's recomputation replays), and whose tree sct reads (``sct.parse.function_ast``, by
    ``__sct_items_tree__``; ``__sct_items_of__`` is ``fn``).  A caller reads a call of ``fn`` as ``(v for v in generator_items(fn)(...))``:
    a generator either way, walked once.  Made once per function (sites and caches know it by identity)."""
    held = _GENERATOR_ITEMS.get(id(fn))
    if held is not None and held[2] is fn and held[0] is fn.__code__ and held[3] is fn.__defaults__ and \
            held[4] is fn.__kwdefaults__:
        return held[1]
    from .parse import function_ast
    fdef, filename, source = function_ast(fn)
    gathered = gather_items(fdef, filename)
    gathered.decorator_list = []
    tree = (copy.deepcopy(gathered), filename, source)       # (what sct reads: compile() below may change it)
    free = fn.__code__.co_freevars
    if free:            # its closure's names: parameters of a function it is made in (their cells are fn's)
        maker = gast.FunctionDef(name="__sct_make", args=gast.arguments(
            args=[gast.Name(id=n, ctx=gast.Param(), annotation=None, type_comment=None) for n in free],
            posonlyargs=[], vararg=None, kwonlyargs=[], kw_defaults=[], kwarg=None, defaults=[]),
            body=[gathered, gast.Return(value=load(gathered.name))], decorator_list=[], returns=None,
            type_comment=None, type_params=[])
        gast.copy_location(maker, gathered)
        gast.copy_location(maker.body[1], gathered)
        top = maker
    else:
        top = gathered
    module = gast.gast_to_ast(gast.Module(body=[top], type_ignores=[]))
    import ast
    ast.fix_missing_locations(module)
    code = compile(module, filename, "exec")
    made = next(c for c in code.co_consts if isinstance(c, types.CodeType))
    if free:
        made = next(c for c in made.co_consts if isinstance(c, types.CodeType) and c.co_name == gathered.name)
        cells = dict(zip(free, fn.__closure__))
        closure = tuple(cells[n] for n in made.co_freevars)
    else:
        closure = None
    derived = types.FunctionType(made, fn.__globals__, fn.__name__, fn.__defaults__, closure)
    derived.__kwdefaults__ = fn.__kwdefaults__
    derived.__qualname__ = fn.__qualname__
    derived.__module__ = fn.__module__
    derived.__sct_items_of__ = fn
    derived.__sct_items_tree__ = tree
    if len(_GENERATOR_ITEMS) >= 1024:
        _GENERATOR_ITEMS.clear()
    _GENERATOR_ITEMS[id(fn)] = (fn.__code__, derived, fn, fn.__defaults__, fn.__kwdefaults__)
    return derived


def _generator_function(value) -> bool:
    return type(value) is types.FunctionType and bool(value.__code__.co_flags & inspect.CO_GENERATOR)


def gather_items(fdef: gast.FunctionDef, filename: str) -> gast.FunctionDef:
    """A copy of the generator function ``fdef`` that returns the list of its items: ``items = []``
    first, ``yield v`` -> ``items.append(v)``, ``yield from it`` -> ``for item in it:
    items.append(item)``, ``return`` -> ``return items``, and ``return items`` at the end."""
    fdef = copy.deepcopy(fdef)
    taken = {n.id for n in gast.walk(fdef) if isinstance(n, gast.Name)}

    def fresh(base: str) -> str:
        name, k = base, 1
        while name in taken:
            name, k = f"{base}_{k}", k + 1
        taken.add(name)
        return name

    items = fresh(fdef.name + "_items")

    def fail(node, construct: str, advice: str):
        raise CompileError(f"sct cannot differentiate {construct} in the generator {fdef.name}(): {advice}",
                           filename, getattr(node, "lineno", fdef.lineno), construct)

    # a return inside a loop: the items gathered as new lists (items = items + [v]), as the list
    # returned there is read while the loop's other paths go on (appending to it in place was read
    # as a change of the returned value, refused with the names sct made)
    concat = any(isinstance(n, gast.Return) for loop in walk_no_defs(fdef) if isinstance(loop, (gast.For, gast.While))
                 for st in loop.body + loop.orelse for n in walk_no_defs(st))

    def append(value, where):
        if concat:
            st = assign(items, gast.BinOp(left=load(items), op=gast.Add(),
                                          right=gast.List(elts=[value], ctx=gast.Load())))
        else:
            st = gast.Expr(value=call(gast.Attribute(value=load(items), attr="append", ctx=gast.Load()), [value]))
        return _located(st, where)

    def lower(stmts: List) -> List:
        out: List = []
        for st in stmts:
            if isinstance(st, (gast.FunctionDef, gast.AsyncFunctionDef, gast.ClassDef)):
                out.append(st)
                continue
            if isinstance(st, gast.Expr) and isinstance(st.value, gast.Yield):
                value = st.value.value if st.value.value is not None else gast.Constant(value=None, kind=None)
                out.append(append(value, st))
                continue
            if isinstance(st, gast.Expr) and isinstance(st.value, gast.YieldFrom):
                item = fresh("item")
                loop = gast.For(target=store(item), iter=st.value.value, body=[append(load(item), st)],
                                orelse=[], type_comment=None)
                out.append(_located(loop, st))
                continue
            if isinstance(st, gast.Return):
                if st.value is not None and not (isinstance(st.value, gast.Constant) and st.value.value is None):
                    fail(st, "a return with a value",
                         "a for loop or list() drops a generator's return value: write a plain return")
                out.append(_located(gast.Return(value=load(items)), st))
                continue
            if isinstance(st, gast.While) and isinstance(st.test, gast.Constant) and st.test.value and \
                    not _leaves(st.body):
                fail(st, "an endless loop (while True without break or return)",
                     "sct computes a generator's items all at once, when it is called, so it must end: "
                     "give the loop an end, or take the items wanted in a loop of your function")
            if isinstance(st, gast.While):
                st.body = _step_guard(steps, fdef.name, st) + st.body
            for field in ("body", "orelse", "finalbody"):
                if isinstance(getattr(st, field, None), list):
                    setattr(st, field, lower(getattr(st, field)))
            for field in ("handlers", "cases"):
                for h in getattr(st, field, None) or ():
                    h.body = lower(h.body)
            out.append(st)
        return out

    steps = fresh("steps")
    body = lower(fdef.body)
    if any(isinstance(n, gast.While) for st in fdef.body for n in walk_no_defs(st)):
        body = [_located(assign(steps, gast.Constant(value=0, kind=None)), fdef.body[0])] + body
    for st in body:
        for n in walk_no_defs(st):
            if isinstance(n, (gast.Yield, gast.YieldFrom)):
                fail(n, "a yield whose value is used (send())",
                     "sct computes a generator's items all at once: yield on a line of its own")
            if isinstance(n, gast.Await):
                fail(n, "await", "differentiate synchronous code")
    start = _located(assign(items, gast.List(elts=[], ctx=gast.Load())), fdef.body[0] if fdef.body else fdef)
    end = _located(gast.Return(value=load(items)), body[-1] if body else fdef)
    fdef.body = [start] + body + [end]
    return fdef


#: the passes of a generator's while loops after which sct stops (Python's generator, asked for fewer
#: items, may stop earlier: built whole, one the caller leaves with break would run for ever)
STEP_LIMIT = 10_000


def _step_guard(steps: str, name: str, where) -> List:
    """``steps = steps + 1`` and a RuntimeError past STEP_LIMIT, at the top of a while loop's body."""
    message = (f"the generator {name}() had not ended after {STEP_LIMIT:,} passes of its while loop: sct computes "
               f"a generator's items all at once, when it is called (Python computes them as the caller asks, and "
               f"a caller that stops early stops it), so it must end on its own: give the loop an end, or "
               f"take the items wanted in a loop of your function")
    count = assign(steps, gast.BinOp(left=load(steps), op=gast.Add(), right=gast.Constant(value=1, kind=None)))
    stop = gast.If(test=gast.Compare(left=load(steps), ops=[gast.Gt()],
                                     comparators=[gast.Constant(value=STEP_LIMIT, kind=None)]),
                   body=[gast.Raise(exc=call("RuntimeError", [gast.Constant(value=message, kind=None)]),
                                    cause=None)], orelse=[])
    return [_located(count, where), _located(stop, where)]


def _leaves(stmts: List) -> bool:
    """Do the statements hold a ``return``, or a ``break`` of the loop they are the body of?"""
    for st in stmts:
        if isinstance(st, (gast.Return, gast.Break)):
            return True
        if isinstance(st, (gast.FunctionDef, gast.AsyncFunctionDef, gast.ClassDef)):
            continue
        if isinstance(st, (gast.For, gast.While)):
            if any(isinstance(n, gast.Return) for s in st.body + st.orelse for n in walk_no_defs(s)) or \
                    _leaves(st.orelse):
                return True
            continue
        for field in ("body", "orelse", "finalbody"):
            if isinstance(getattr(st, field, None), list) and _leaves(getattr(st, field)):
                return True
        for field in ("handlers", "cases"):
            if any(_leaves(h.body) for h in getattr(st, field, None) or ()):
                return True
    return False


def _located(node, where):
    for n in gast.walk(node):
        if isinstance(n, (gast.stmt, gast.expr)) and not hasattr(n, "lineno"):
            gast.copy_location(n, where)
    return gast.copy_location(node, where)


def changes_or_draws(fn, tree) -> bool:
    """May the user's function ``fn`` (its tree ``tree``) change what its caller sees (``callee_effects._pure``)
    or draw random numbers (``normalize_loops._draws``, its module's names of modules known)?"""
    from .callee_effects import _pure
    from .normalize_loops import _draws
    modules = frozenset(k for k, v in fn.__globals__.items() if isinstance(v, types.ModuleType))
    return not _pure(fn) or _draws(tree, modules)


def _calls_generators(calls: List, partials, local_root) -> bool:
    """Whether a call of ``calls`` (calls and generator expressions) may be one wrap_generator_calls
    rewrites: its function resolves to a generator function (each chain of names resolved once: what
    ``partials.resolve`` finds depends on the chain only), or an expression it made before."""
    from .partials import _chain
    resolved: dict = {}
    for n in calls:
        if n.__class__ is gast.GeneratorExp:
            if getattr(n, "_sct_items", None) is not None:
                return True
            continue
        if not isinstance(n.func, (gast.Name, gast.Attribute)):
            continue
        key = _chain(n.func)
        key = tuple(key) if key is not None else None
        if key not in resolved:
            resolved[key] = _generator_function(partials.resolve(n.func, local_root, classes=True))
        if resolved[key]:
            return True
    return False


def wrap_generator_calls(stmts: List, norm) -> List:
    """``gen(a)`` -> ``(v for v in gen_items(a))`` in ``stmts`` (not in nested defs or lambdas: their
    calls are left as written, and refused where the generator's code is read), for each ``gen`` the
    function's names resolve to a generator function; ``norm.partials.generator_items`` records
    ``gen_items`` -> ``gen``'s expression (sct/compiler.py binds it).  A generator that changes
    what its caller sees or draws random numbers is refused here."""
    partials = norm.partials
    if partials is None:
        return stmts
    calls = [n for st in stmts for n in walk_no_defs(st) if isinstance(n, (gast.Call, gast.GeneratorExp))]
    if not any(isinstance(n, gast.Call) for n in calls):
        return stmts
    if not _calls_generators(calls, partials, norm.local_root):
        # no call of a generator function (the nested defs' calls looked at too): the transformer below
        # would leave every node as it is (was: it visited every node of the function anyway)
        _check_consumers(stmts, norm)
        return stmts

    class Wrap(gast.NodeTransformer):
        def visit_FunctionDef(self, node):
            return node

        visit_AsyncFunctionDef = visit_ClassDef = visit_Lambda = visit_FunctionDef

        def visit_Assign(self, node):
            self.generic_visit(node)
            # a, b = gen(u): unpacked whole by Python too (a list of the items, the same error if they are
            # not as many as the names)
            if len(node.targets) == 1 and isinstance(node.targets[0], (gast.Tuple, gast.List)) and \
                    isinstance(node.value, gast.GeneratorExp) and getattr(node.value, "_sct_items", None):
                node.value = node.value._sct_items
            return node

        def visit_Call(self, node):
            self.generic_visit(node)
            if not isinstance(node.func, (gast.Name, gast.Attribute)):
                return node
            gen = partials.resolve(node.func, norm.local_root, classes=True)   # (Cls.gen(m): a class's function)
            if not _generator_function(gen):
                return node
            label = dotted_name(node.func) or "generator"
            try:
                from .parse import function_ast
                gdef, _, _ = function_ast(gen)
            except CompileError:
                return node             # (refused where its code is read, with the reason)
            if not getattr(node, "_sct_pure_generator", False) and changes_or_draws(gen, gdef):
                norm.fail(node, f"a call of the generator {label}() that changes objects or draws random numbers",
                          f"sct computes a generator's items all at once, when {label}() is called, where Python "
                          f"computes each as the caller asks for it; with writes into objects or random draws the "
                          f"two differ. Make {label}() return a list of its items")
            name = partials.generator_items_name(norm.namer, label, node.func)
            items = _located(call(load(name), node.args, node.keywords), node)
            item = norm.namer.fresh(label.split(".")[-1] + "_item")
            gen_exp = gast.GeneratorExp(elt=load(item), generators=[gast.comprehension(
                target=store(item), iter=items, ifs=[], is_async=0)])
            gen_exp = _located(gen_exp, node)
            gen_exp._sct_items = items
            state = _state_globals(gen)
            captured = _captured_objects(gen)
            for nested in getattr(node, "_sct_nested_generators", ()):
                # a generator method of a field read on gen's behalf (sct/base_inits.py): its globals and
                # captured objects are gen's too (was: a global one reads, rebound between two items by the
                # caller's loop, read once for all of them)
                state.update(_state_globals(nested))
                captured |= _captured_objects(nested)
            caller = getattr(partials, "fn", None) or gen
            namespaces = {}
            for namespace, name, _ in state.values():
                namespaces.setdefault(id(namespace), (namespace, set()))[1].add(name)
            also = [getattr(m, n) for code in _codes_of(caller.__code__) for m in
                    [caller.__globals__.get(k) for k in code.co_names] if _user_module(m)
                    for n in code.co_names if hasattr(m, n)]
            for namespace, names in namespaces.values():
                found = rebound_global(caller, names, namespace, also)
                if found is not None:
                    norm.fail(node, f"a call of the generator {label}(), which reads the global {found[0]} that "
                                    f"{writer_name(found[1])} rebinds",
                              f"sct computes a generator's items all at once, when {label}() is called, where "
                              f"Python computes each as the caller asks for it, reading {found[0]} then. Pass "
                              f"{found[0]} to {label}() as an argument, or make {label}() return a list of its items")
            gen_exp._sct_consumed = (label, {n.id for a in list(node.args) + [k.value for k in node.keywords]
                                             for n in gast.walk(a) if isinstance(n, gast.Name)},
                                     {k for k, v in state.items() if not _immutable(v[2])} | captured)
            return gen_exp

    wrap = Wrap()
    stmts = [wrap.visit(st) for st in stmts]
    _check_consumers(stmts, norm)
    return stmts


# --- what runs between two items ----------------------------------------------------------------
# A for loop's body (and map()'s function) runs after each item a generator gives it, a
# comprehension's element and conditions too: where that code changes an object the generator reads
# (an argument's attribute or item, a global list), Python's later items see the change and sct's,
# computed first, do not.  Refused: code there that writes into (or calls a method of) a name given
# to the generator or a global holding an object the generator reads, or that passes one to a
# function that may change it, or calls a function that may change objects while the generator reads
# a global object.

_IMMUTABLE = (int, float, complex, str, bytes, bool, type(None), frozenset, range)


def _immutable(value) -> bool:
    import numpy as np
    if isinstance(value, _IMMUTABLE) or isinstance(value, np.generic):
        return True
    if isinstance(value, tuple):
        return all(_immutable(v) for v in value)
    return False


_LIBRARIES = ("numpy", "sct", "runtime", "scipy", "builtins", "math", "cmath", "random", "itertools", "functools",
              "operator", "collections", "typing", "dataclasses", "types", "copy", "os", "sys")


#: methods of lists, dicts and sets that change their own object only
_CONTAINER_METHODS = frozenset({"append", "extend", "insert", "pop", "remove", "clear", "sort", "reverse", "update",
                                "setdefault", "popitem", "add", "discard"})


class _Changeable:
    """Stands for a value that may be rebound by a write sct does not see as a global's (a class attribute)."""


def _user_module(value) -> bool:
    return isinstance(value, types.ModuleType) and name_top(value.__name__ or "") not in _LIBRARIES and \
        "site-packages" not in (getattr(value, "__file__", None) or "site-packages")


def _codes_of(code):
    yield code
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            yield from _codes_of(c)


def _state_globals(gen, depth: int = 0, seen=None) -> dict:
    """The globals ``gen`` (and the functions it calls by global name or as a module's attribute, a
    few levels down) reads that hold data (not modules, functions or classes), its module's and the
    attributes of user modules it reads (``cfg.SCALE``): label -> (the module's namespace, name, value)."""
    import dis
    seen = set() if seen is None else seen
    if id(gen.__code__) in seen or depth > 4:
        return {}
    seen.add(id(gen.__code__))
    out = {}

    def take(namespace, name, value, label):
        if isinstance(value, types.FunctionType):
            if module_top(value) not in _LIBRARIES:
                out.update(_state_globals(value, depth + 1, seen))
            return
        if isinstance(value, (types.ModuleType, type, types.BuiltinFunctionType, types.MethodType)) or \
                callable(value) and not hasattr(value, "__dict__") and not isinstance(value, (list, dict)):
            return
        out[label] = (namespace, name, value)

    for code in _codes_of(gen.__code__):
        for name in code.co_names:
            if name in gen.__globals__:
                take(gen.__globals__, name, gen.__globals__[name], name)
        before = None
        for ins in dis.get_instructions(code):
            if ins.opname in ("LOAD_ATTR", "LOAD_METHOD") and before is not None:
                module = gen.__globals__.get(before)
                if _user_module(module) and hasattr(module, ins.argval):
                    take(vars(module), ins.argval, getattr(module, ins.argval), f"{before}.{ins.argval}")
                elif isinstance(module, type) and module_top(module) not in _LIBRARIES and \
                        ins.argval in vars(module):
                    # a class attribute (Cfg.K): set by a write into Cfg or by a function that may change objects
                    value = vars(module)[ins.argval]
                    if not isinstance(value, (types.FunctionType, staticmethod, classmethod, property, type)):
                        out[f"{before}.{ins.argval}"] = ({}, ins.argval, _Changeable)
            before = ins.argval if ins.opname == "LOAD_GLOBAL" else None
    return out


def _captured_objects(gen) -> set:
    """What to call the objects (not numbers or strings) ``gen`` reads through its defaults and its
    closure: a function called between its items may change them."""
    out = set()
    code = gen.__code__
    names = code.co_varnames[:code.co_argcount + code.co_kwonlyargcount]
    defaults = gen.__defaults__ or ()
    for name, value in zip(names[code.co_argcount - len(defaults):code.co_argcount], defaults):
        if not _immutable(value):
            out.add(f"the default value of {name}")
    for name, value in (gen.__kwdefaults__ or {}).items():
        if not _immutable(value):
            out.add(f"the default value of {name}")
    for name, cell in zip(code.co_freevars, gen.__closure__ or ()):
        try:
            value = cell.cell_contents
        except ValueError:
            continue
        if not _immutable(value) and not isinstance(value, (types.FunctionType, types.ModuleType, type)):
            out.add(f"{name} (from the enclosing function)")
    return out


def _walked(it, named=None) -> List:
    """The wrapped generator calls a for loop over ``it`` takes its items from as it goes: ``it``
    itself (or a name bound to one: ``named``), or one given to enumerate(), zip() or map(), or
    walked by a generator expression."""
    named = named or {}
    if isinstance(it, gast.GeneratorExp) and getattr(it, "_sct_consumed", None):
        return [it]
    if isinstance(it, gast.Name) and it.id in named:
        return named[it.id]
    if isinstance(it, gast.GeneratorExp):            # (f(w) for w in G): G walked as it is
        return [g for comp in it.generators for g in _walked(comp.iter, named)]
    if isinstance(it, gast.Call) and isinstance(it.func, gast.Name) and it.func.id in ("enumerate", "zip", "map",
                                                                                       "reversed", "filter"):
        return [g for a in it.args for g in _walked(a.value if isinstance(a, gast.Starred) else a, named)]
    return []


def _created_before_walked(stmts: List, norm, named) -> None:
    """``g = gen(...)``, then statements, then a statement reading ``g``: the statements in between run
    before Python computes any item (checked as code between items is)."""
    for i, st in enumerate(stmts):
        for field in ("body", "orelse", "finalbody"):
            if isinstance(getattr(st, field, None), list):
                _created_before_walked(getattr(st, field), norm, named)
        for h in getattr(st, "handlers", None) or ():
            _created_before_walked(h.body, norm, named)
        if not (isinstance(st, gast.Assign) and len(st.targets) == 1 and isinstance(st.targets[0], gast.Name) and
                isinstance(st.value, gast.GeneratorExp) and _walked(st.value, named)):
            continue
        name = st.targets[0].id
        between = []
        for later in stmts[i + 1:]:
            if any(isinstance(n, gast.Name) and n.id == name for n in walk_no_defs(later)):
                break
            between.append(later)
        for g in _walked(st.value, named):
            _check_between(g, between, norm, st)


def _check_consumers(stmts: List, norm) -> None:
    defs = {d.name: d for d in walk_nodes(norm.fdef) if isinstance(d, gast.FunctionDef) and d is not norm.fdef}
    named: dict = {}                 # g = gen(...) or g = (... for w in gen(...)): for v in g walks it
    for st in stmts:
        for n in walk_no_defs(st):
            if isinstance(n, gast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], gast.Name):
                found = _walked(n.value, named) if isinstance(n.value, gast.GeneratorExp) else []
                if found:
                    named.setdefault(n.targets[0].id, []).extend(found)
    if named:
        _created_before_walked(stmts, norm, named)
    for st in stmts:
        for n in walk_no_defs(st):
            if isinstance(n, gast.Call) and not (isinstance(n.func, gast.Name) and n.func.id == "sorted"):
                # map(f, G), functools.reduce(f, G), max(G, key=f): f runs between G's items
                values = [a.value if isinstance(a, gast.Starred) else a for a in n.args] + [k.value for k in n.keywords]
                walked = [g for a in values for g in _walked(a, named)]
                for g in walked:
                    for a in values:
                        if _walked(a, named):
                            continue
                        if isinstance(a, gast.Lambda):
                            _check_between(g, [a.body], norm, n)
                        elif isinstance(a, gast.Name) and a.id in defs:
                            _check_between(g, defs[a.id].body, norm, n)
                        elif isinstance(a, (gast.Name, gast.Attribute)):
                            _check_between(g, [gast.copy_location(call(a, []), n)], norm, n)
            if isinstance(n, (gast.For, gast.AsyncFor)):
                between = list(n.body)
                if isinstance(n.iter, gast.Call) and isinstance(n.iter.func, gast.Name) and \
                        n.iter.func.id in ("map", "filter") and n.iter.args:
                    between.append(n.iter.args[0])
                for g in _walked(n.iter, named):
                    _check_between(g, between, norm, n)
            elif isinstance(n, (gast.ListComp, gast.SetComp, gast.DictComp, gast.GeneratorExp)):
                gens = n.generators
                tail = [n.elt] if not isinstance(n, gast.DictComp) else [n.key, n.value]
                for i, comp in enumerate(gens):
                    between = tail + [c for later in gens[i:] for c in later.ifs] + [later.iter for later in gens[i + 1:]]
                    for g in _walked(comp.iter, named):
                        if g is n:
                            continue
                        _check_between(g, between, norm, n)


def _numpy_function(value, call, passed) -> bool:
    """A numpy ufunc or array function (``np.tanh``, ``np.sum``, scipy.special's ufuncs), read through a
    closure or a default (autograd's Bayesian neural net's ``nonlinearity=np.tanh``; red team B, dec 23),
    that changes no object the generator reads: given none of them, or a ufunc given no ``out``
    (was: refused between a generator's items, as a function that may change objects)."""
    import numpy as np
    if isinstance(value, np.ufunc):
        return not passed or (not any(k.arg in ("out", None) for k in call.keywords) and
                              len(call.args) <= value.nin and
                              not any(isinstance(a, gast.Starred) for a in call.args))
    return not passed and type(value).__name__ == "_ArrayFunctionDispatcher" and \
        (getattr(value, "__module__", None) or "").split(".")[0] == "numpy"


def _resolved(norm, name_node):
    """What the name ``name_node`` refers to in the function's globals or closure (None: a local, unknown)."""
    try:
        return norm.partials.resolve(name_node, norm.local_root) if norm.partials is not None else None
    except Exception:
        return None


def _check_between(gen_exp, between: List, norm, where) -> None:
    from .callee_effects import _READING_METHODS, _pure
    label, reads, state = gen_exp._sct_consumed
    watched = set(reads) | {k.split(".")[0] for k in state}
    modules = {k for k, v in norm.partials.fn.__globals__.items() if isinstance(v, types.ModuleType)} \
        if getattr(norm.partials, "fn", None) is not None else {"np", "numpy", "math"}

    def holders(value) -> set:
        """The names whose objects ``value`` may hold or be (q = p, q = p.layers, q = [p], q = Opt(p))."""
        if isinstance(value, gast.Name):
            return {value.id}
        if isinstance(value, (gast.Attribute, gast.Subscript, gast.Starred)):
            return holders(value.value)
        if isinstance(value, (gast.List, gast.Tuple, gast.Set)):
            return {h for e in value.elts for h in holders(e)}
        if isinstance(value, gast.Dict):
            return {h for e in value.values for h in holders(e)}
        if isinstance(value, gast.Call) and not (isinstance(value.func, gast.Attribute) and
                                                 isinstance(value.func.value, gast.Name) and
                                                 value.func.value.id in modules):
            return {h for a in list(value.args) + [k.value for k in value.keywords] for h in holders(a)}
        return set()
    pairs = [(t.id, holders(n.value)) for n in gast.walk(norm.fdef) if isinstance(n, gast.Assign)
             for t in n.targets if isinstance(t, gast.Name)]
    grown = True
    while grown:                   # q = p anywhere in the function: q.k = v writes into p's object too
        grown = False
        for a, bs in pairs:
            if a in watched and not bs <= watched or a not in watched and bs & watched:
                watched |= {a} | bs
                grown = True

    def refuse(node, what):
        norm.fail(node, f"code run before or between the items of the generator {label}() that {what}",
                  f"sct computes a generator's items all at once, when {label}() is called, where Python "
                  f"computes each as the caller asks for it, after this code ran for the item before. Make "
                  f"{label}() return a list of its items, or change the object after the loop")

    def root(node):
        while isinstance(node, (gast.Attribute, gast.Subscript, gast.Starred)):
            node = node.value
        return node.id if isinstance(node, gast.Name) else None

    for part in between:
        for n in ([part] if isinstance(part, gast.expr) else []) + list(walk_no_defs(part)):
            if isinstance(n, (gast.Subscript, gast.Attribute)) and isinstance(n.ctx, (gast.Store, gast.Del)) and \
                    root(n) in watched:
                refuse(n, f"writes into {root(n)}, which {label}() reads")
            if isinstance(n, (gast.Subscript, gast.Attribute)) and isinstance(n.ctx, (gast.Store, gast.Del)) and \
                    reads and root(n) is not None and root(n) not in watched:
                # Cls.scale = v, CFG.scale = v: a class or an object of the function's globals (or closure)
                # that an object the generator is given may hold or read through self (self.scale of a
                # class attribute, self.cfg.scale of that global object): was every item computed with the
                # old value (4.0 for Python's 6.0)
                held = _resolved(norm, gast.Name(id=root(n), ctx=gast.Load(), annotation=None, type_comment=None))
                if held is not None and not isinstance(held, types.ModuleType):
                    what = f"the class {root(n)}" if isinstance(held, type) else f"{root(n)}, an object from outside"
                    refuse(n, f"sets an attribute or item of {what}, which objects {label}() reads may read "
                              f"through self")
            if isinstance(n, gast.AugAssign) and root(n.target) in watched:
                refuse(n, f"changes {root(n.target)} in place, which {label}() reads")
            if not isinstance(n, gast.Call):
                continue
            func = n.func
            if isinstance(func, gast.Attribute):
                base = root(func.value)
                if base in modules and base not in watched:
                    continue
                if base in watched and func.attr not in _READING_METHODS:
                    refuse(n, f"calls {base}.{func.attr}(), which may change {base}, which {label}() reads")
                if base is not None and base not in watched and (func.attr in _READING_METHODS or
                                                                 func.attr in _CONTAINER_METHODS):
                    continue        # out.append(v): changes out only (not a name the generator reads)
            passed = {root(a) for a in list(n.args) + [k.value for k in n.keywords]} & watched
            if not passed and not state:
                continue
            callee = norm.partials.resolve(func, norm.local_root) if isinstance(func, (gast.Name, gast.Attribute)) \
                else None
            if isinstance(callee, types.BuiltinFunctionType) or \
                    isinstance(callee, types.FunctionType) and module_top(callee) in (
                        "numpy", "sct", "runtime", "scipy") or \
                    _numpy_function(callee, n, passed) or \
                    isinstance(callee, types.FunctionType) and _pure(callee):
                continue
            if callee is None and isinstance(func, gast.Name) and func.id in ("len", "range", "float", "int", "abs",
                                                                              "sum", "min", "max", "list", "tuple",
                                                                              "zip", "enumerate", "isinstance"):
                continue
            if isinstance(callee, type) and module_top(callee) == "builtins":
                continue
            what = f"gives {', '.join(sorted(passed))} to" if passed else "calls"
            refuse(n, f"{what} a function that may change objects ({', '.join(sorted(passed or state))} read "
                      f"by {label}())")


# A generator expression, map(), filter(), enumerate(), zip() or an itertools iterator bound to a name
# and walked later reads its objects when it is walked; sct builds its items where it is made.  A call
# made in between that may change what it reads (a helper given the object, a nested def rebinding a
# name with ``nonlocal``, a user function changing a global object it reads) is refused there, as code
# run before a generator function's items is (_check_between) (was: ``terms = (a * cfg.k for a in x);
# warmup(cfg); L = sum(terms)`` gave the items of the old cfg.k: a wrong value and gradient).

_SAFE_BUILTINS = frozenset({"len", "range", "float", "int", "abs", "sum", "min", "max", "list", "tuple", "zip",
                            "enumerate", "isinstance", "print", "round", "str", "repr", "bool", "complex",
                            "type", "id", "hasattr", "sorted", "reversed", "any", "all", "dict", "set"})


_NUMPY_WRITERS = frozenset({"copyto", "put", "place", "putmask", "fill_diagonal", "put_along_axis", "at", "shuffle"})


def call_changes_lazy_reads(norm, node, reads: set, local_names: set) -> bool:
    """May the call ``node``, run after a lazy iterator is bound to a name and before it is walked,
    change what the iterator reads (``reads``: the names it reads, with those that may share their
    objects)?  Given one of them (or its attribute or item) and not known to change nothing (a builtin,
    numpy's, a pure user function); a nested def naming one (a ``nonlocal`` rebinding, a write through
    its closure) that may change what its caller sees; a user function that may change objects where
    the iterator reads a global or closure object."""
    import numpy as np
    from .callee_effects import _READING_METHODS, _pure

    def root(n):
        while isinstance(n, (gast.Attribute, gast.Subscript, gast.Starred)):
            n = n.value
        return n.id if isinstance(n, gast.Name) else None
    func = node.func
    passed = {root(a) for a in list(node.args) + [k.value for k in node.keywords]} & reads
    if isinstance(func, gast.Attribute) and root(func.value) in reads and func.attr not in _READING_METHODS:
        return True         # s.cfg.reset(), lst.append(v) (a method of an object the iterator reads)
    if isinstance(func, gast.Name):
        nested = [d for d in walk_nodes(norm.fdef) if isinstance(d, (gast.FunctionDef, gast.AsyncFunctionDef))
                  and d.name == func.id and d is not norm.fdef]
        if nested:
            named = {n.id for d in nested for n in walk_nodes(d) if isinstance(n, gast.Name)} | \
                {name for d in nested for n in walk_nodes(d) if isinstance(n, gast.Nonlocal) for name in n.names}
            return bool(passed or named & reads) and norm.call_has_effects(node)
        if func.id in local_names:
            # a local value: what it runs is not known here; given what the iterator reads, or bound to
            # what reads it (``reset = cfg.reset``, ``run = lambda: warmup(cfg)``)
            bound = {n.id for a in walk_nodes(norm.fdef) if isinstance(a, gast.Assign) and
                     any(isinstance(t, gast.Name) and t.id == func.id for t in a.targets)
                     for n in gast.walk(a.value) if isinstance(n, gast.Name)}
            return bool(passed or bound & reads)
    try:
        callee = norm.partials.resolve(func, norm.local_root) \
            if norm.partials is not None and isinstance(func, (gast.Name, gast.Attribute)) else None
    except Exception:
        callee = None
    library = (getattr(callee, "__module__", None) or "").split(".")[0] in ("numpy", "scipy") or \
        isinstance(callee, np.ufunc)
    if library and not any(k.arg in ("out", None) for k in node.keywords) and \
            not (isinstance(func, gast.Attribute) and func.attr in _NUMPY_WRITERS):
        return False        # np.sum(x), np.tanh(v): numpy's functions change no argument (but out=)
    if isinstance(callee, types.BuiltinFunctionType) and not library or \
            isinstance(callee, types.FunctionType) and module_top(callee) in ("sct", "runtime") or \
            _numpy_function(callee, node, passed) or \
            isinstance(callee, type) and module_top(callee) == "builtins" or \
            callee is None and isinstance(func, gast.Name) and func.id in _SAFE_BUILTINS:
        return False
    if isinstance(callee, types.FunctionType) and _pure(callee):
        return False
    if passed:
        return True
    if not isinstance(callee, types.FunctionType):
        return False        # (a method of an object the iterator does not read, a class: as before)
    for name in reads - local_names:    # a global or closure object a user function may change
        value = _resolved(norm, gast.Name(id=name, ctx=gast.Load(), annotation=None, type_comment=None))
        if value is not None and not _immutable(value) and \
                not isinstance(value, (types.ModuleType, types.FunctionType, types.BuiltinFunctionType)):
            return True
    return False
