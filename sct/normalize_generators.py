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
from .ir import assign, call, load, store, walk_no_defs


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

    def append(value, where):
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
            for field in ("body", "orelse", "finalbody"):
                if isinstance(getattr(st, field, None), list):
                    setattr(st, field, lower(getattr(st, field)))
            for field in ("handlers", "cases"):
                for h in getattr(st, field, None) or ():
                    h.body = lower(h.body)
            out.append(st)
        return out

    body = lower(fdef.body)
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


def wrap_generator_calls(stmts: List, norm) -> List:
    """``gen(a)`` -> ``(v for v in gen_items(a))`` in ``stmts`` (not in nested defs or lambdas: their
    calls are left as written, and refused where the generator's code is read), for each ``gen`` the
    function's names resolve to a generator function; ``norm.partials.generator_items`` records
    ``gen_items`` -> ``gen``'s expression (sct/compiler.py binds it).  A generator that changes
    what its caller sees or draws random numbers is refused here."""
    partials = norm.partials
    if partials is None or not any(isinstance(n, gast.Call) for st in stmts for n in walk_no_defs(st)):
        return stmts
    from .callee_effects import _pure
    from .normalize_loops import _draws

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
            gen = partials.resolve(node.func, norm.local_root)
            if not _generator_function(gen):
                return node
            label = ".".join(_chain_names(node.func))
            modules = frozenset(k for k, v in gen.__globals__.items() if isinstance(v, types.ModuleType))
            try:
                from .parse import function_ast
                gdef, _, _ = function_ast(gen)
            except CompileError:
                return node             # (refused where its code is read, with the reason)
            if not _pure(gen) or _draws(gdef, modules):
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
            return gen_exp

    wrap = Wrap()
    return [wrap.visit(st) for st in stmts]


def _chain_names(node) -> List[str]:
    parts = []
    while isinstance(node, gast.Attribute):
        parts.append(node.attr)
        node = node.value
    parts.append(node.id if isinstance(node, gast.Name) else "?")
    return parts[::-1]
