"""Implicit code of the user's (a property, ``__index__``, ``__bool__``, a descriptor's ``__get__``...) in code a
second derivative recomputes (sct/forward_code.py ``hook_check``).

A second derivative recomputes the code before the inner dlgradient; an explicit call of the user's is replayed
there (it runs once) and an explicit write into an outside object is refused (sct/recompute_writes.py), but a
property read or an index ran again, and the outer gradient differentiated its second answer (was: a property
``lr`` advancing a global counter gave z 38.25, dz/dx [9, 72] where Python gives 153, [36, 288]; ``x[:CUT]`` with
a counting ``__index__`` gave [6, 12, 0] where [6, 0, 0], red57c W3).  Where a class whose implicit code may
change an object is within the function's reach, each statement that may run such code on an object gets a check
before it (``rt.recompute_hooked``) that, in a recomputation only, looks at the actual classes of the objects the
statement names and refuses at the line where one has such code the statement may run; an object the compiler
cannot name there (an item's, a field's, a lambda's) is refused in a recomputation as it is.  ``__call__``,
the operators sct makes calls and a walk's ``__iter__``/``__next__`` are replayed (they run once): not counted.
(hook2_57 refused the whole recomputation, for every class within reach of any object of an unknown class: 101
tests of everyday code refused.)
"""
from __future__ import annotations

import ast
import functools
import inspect
import os
import textwrap
import types
from types import SimpleNamespace
from typing import Dict, Set

from .implicit_hooks import bound_inside, classes_within_reach, hook_subjects
from .runtime.effects import class_hooks
from .runtime.origins import library_code

# calls of these (given a parameter) change nothing of it
_PURE_BUILTINS = frozenset(("len", "float", "int", "abs", "min", "max", "isinstance", "round", "bool", "str",
                            "repr", "type", "id", "hash", "sum", "range", "tuple", "list", "sorted", "iter",
                            "getattr", "hasattr", "print", "format", "divmod", "pow", "enumerate", "zip"))


def changing_hooks(classes, made_here: bool = False) -> Dict[str, str]:
    """hook name -> ``Class.name`` (``A.lr or B.lr``) for the implicit code of ``classes`` that may change an
    object (its own ``self``, an argument, a global's or a closure's; ``made_here``: an object the function
    makes, which its recomputation makes anew: not its own ``self``): unsure counts as changing.  A context
    manager's ``__enter__``/``__exit__`` too (a ``with`` statement's header runs them)."""
    out: Dict[str, str] = {}
    for cls in sorted(classes, key=lambda c: c.__qualname__):
        for name in sorted((class_hooks(cls) | context_hooks(cls)) - _replayed()):
            if any(_may_change(f, made_here) for f in _hook_functions(cls, name)):
                label = f"{cls.__name__}.{name}"
                out[name] = f"{out[name]} or {label}" if name in out else label
    return out


_CONTEXT = ("__enter__", "__exit__")


def context_hooks(cls) -> frozenset:
    """The context manager methods (``__enter__``, ``__exit__``) of the user's that ``cls`` has: a ``with`` of
    its object runs them (runtime class_hooks leaves them out: the stale-read checks follow a with statement on
    their own, sct/stale_reads.py)."""
    found = []
    for name in _CONTEXT:
        for k in getattr(cls, "__mro__", ()):
            v = vars(k).get(name)
            if v is not None:
                if isinstance(v, types.FunctionType) and not library_code(k):
                    found.append(name)
                break
    return frozenset(found)


def walk_changes(cls):
    """``Class.__iter__`` (or ``__next__``, ``__len__``, ``__getitem__``): the first method of the walk protocol of
    ``cls`` that is the user's and may change an object, else None.  A loop's walk of such an object runs it again
    where a second derivative recomputes the loop (runtime/effects.py walked_object refuses it there)."""
    for name in ("__iter__", "__next__", "__len__", "__getitem__"):
        if any(_may_change(f) for f in _hook_functions(cls, name)):
            return f"{cls.__name__}.{name}"
    return None


def _replayed() -> frozenset:
    """Hooks sct runs as calls it replays where it recomputes (``layer(x)``'s ``__call__``, an operator of the
    user's that sct/user_operators.py makes a call, a walk's ``__iter__``/``__next__``: they run once)."""
    global _REPLAYED
    if _REPLAYED is None:
        from .augmented_writes import INPLACE_METHODS
        from .operand_checks import BINARY_DUNDERS, UNARY_DUNDERS
        _REPLAYED = frozenset(("__call__", "__iter__", "__next__", *INPLACE_METHODS.values(),
                               *(d for _, *ds in BINARY_DUNDERS.values() for d in ds),
                               *(d for _, d in UNARY_DUNDERS.values())))
    return _REPLAYED


_REPLAYED = None


def _hook_functions(cls, name: str):
    for k in getattr(cls, "__mro__", ()):
        v = vars(k).get(name)
        if v is None or library_code(k):
            continue
        if isinstance(v, (staticmethod, classmethod)):
            v = v.__func__
        if isinstance(v, property):
            return [f for f in (v.fget, v.fset, v.fdel) if f is not None]
        if isinstance(v, types.FunctionType):
            return [v]
        return [f for f in (getattr(type(v), m, None) for m in ("__get__", "__set__", "__delete__"))
                if isinstance(f, types.FunctionType)]
    return []


_STDLIB = os.path.dirname(os.__file__) + os.sep


def _may_change(f, made_here: bool = False) -> bool:
    from .global_writes import _library
    from .recompute_writes import written_objects_read
    from .runtime.origins import module_name
    f = inspect.unwrap(f)       # (a slots dataclass's __repr__: reprlib's wrapper of generated code)
    while isinstance(f, (functools.partial, functools.partialmethod)):
        f = f.func              # (matplotlib's Figure.figure: a property of a partial; was an internal error)
    code = getattr(f, "__code__", None)
    if code is None:            # (a builtin, a callable object: Python's and the libraries' change nothing)
        return not (library_code(f) or _library(module_name(f)))
    where = code.co_filename
    if library_code(f) or _library(module_name(f)) or where == "<string>" or "site-packages" in where or \
            where.startswith(_STDLIB):
        return False        # (Python's, a dataclass's generated __repr__/__eq__: they change nothing)
    try:
        if written_objects_read(f)[0]:
            return True
        tree = ast.parse(textwrap.dedent(inspect.getsource(f)))
    except Exception:
        return True
    local = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    params = {a.arg for n in ast.walk(tree) if isinstance(n, ast.arguments)
              for a in n.posonlyargs + n.args + n.kwonlyargs + [n.vararg, n.kwarg] if a is not None}
    # (a local bound to anything but a new value, ``c = self.cfg``, may be an object from outside: not the hook's own)
    aliases = {t.id for n in ast.walk(tree) for targets, value in [_binding(n)] if not _new_value(value)
               for target in targets for t in ast.walk(target) if isinstance(t, ast.Name)}
    args = tree.body[0].args if tree.body and isinstance(tree.body[0], (ast.FunctionDef, ast.AsyncFunctionDef)) \
        else None
    own = (args.posonlyargs + args.args)[0].arg if made_here and args and args.posonlyargs + args.args else None
    for n in ast.walk(tree):
        if isinstance(n, (ast.Global, ast.Nonlocal)):
            return True
        if isinstance(n, (ast.Attribute, ast.Subscript)) and isinstance(n.ctx, (ast.Store, ast.Del)):
            root = _root(n)
            if root in local - params - aliases:
                continue        # (a new object of the hook's own: ``d = {}; d["k"] = 1``)
            if root == own and isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name):
                continue        # (``self.n += 1`` of an object the function makes: made anew where recomputed)
            return True         # (self.n += 1, T[0] = ..., self.cfg["n"] += 1: an object from outside the hook's code)
        if isinstance(n, ast.Call):
            func = n.func
            if isinstance(func, ast.Attribute) and _root(func) in params | aliases:
                return True     # (self.bump(), self.log.append(v), c = self.log; c.append(v))
            if isinstance(func, ast.Name) and func.id not in _PURE_BUILTINS and not _builtin_class(func.id) and \
                    any(isinstance(a, ast.Name) and a.id in params for a in n.args):
                return True     # (helper(self): it may change it)
            if isinstance(func, ast.Name) and func.id in ("setattr", "delattr", "next", "exec", "eval"):
                return True
    return False


def _binding(n):
    """(targets, value) of a binding node of a hook's code, else ((), None)."""
    if isinstance(n, ast.Assign):
        return n.targets, n.value
    if isinstance(n, (ast.AnnAssign, ast.AugAssign, ast.NamedExpr)):
        return [n.target], n.value
    if isinstance(n, (ast.For, ast.comprehension)):
        return [n.target], n.iter
    if isinstance(n, ast.withitem) and n.optional_vars is not None:
        return [n.optional_vars], n.context_expr
    return (), None


def _new_value(v) -> bool:
    """A value that is surely a new object (a literal, a display, a comprehension, ``dict()``)."""
    return v is None or isinstance(v, (ast.Constant, ast.List, ast.Dict, ast.Set, ast.Tuple, ast.ListComp,
                                       ast.DictComp, ast.SetComp, ast.JoinedStr)) or \
        isinstance(v, ast.Call) and isinstance(v.func, ast.Name) and v.func.id in ("dict", "list", "set") and \
        not v.args and not v.keywords


def _builtin_class(name: str) -> bool:
    """A class of Python's own (``AttributeError(name)`` raised, ``dict(self.items)``): it makes a new object."""
    import builtins
    return isinstance(getattr(builtins, name, None), type)


def _root(n):
    while isinstance(n, (ast.Attribute, ast.Subscript, ast.Call)):
        n = n.func if isinstance(n, ast.Call) else n.value
    return n.id if isinstance(n, ast.Name) else None


def hook_checks(body, fn, param_kinds, rt_name: str, names) -> Dict[int, tuple]:
    """id(statement) -> ``(line, ((name, hooks), ...), shown)`` for the statements of ``body`` (those nested in
    compound ones too; a compound one by its header) that may run implicit code of the user's that changes an
    object, where a class with such code is within the function's reach (else {}: no check at all).  Each
    ``name`` is an object the statement may run ``hooks`` (space-separated names) of: checked at run time, on
    its actual class, before the statement (``rt.recompute_hooked``, in a recomputation only); ``shown``
    (``Made.__float__``): refused in a recomputation as it is, where the compiler knows the object's class (made
    in the function) or cannot name the object (an item's, a field's, a name bound in a comprehension).
    ``names``: what the compiler knows of the names (``plain``: whose use runs nothing; ``library``: numpy's,
    sct's and Python's modules and functions, whose results are no object of the user's; ``helpers``: the
    user's functions, compiled and replayed, whose uses of what they are given are theirs; ``classes``: name ->
    the classes of the object it holds, where known; ``made``: name -> the class of the object the function
    makes and binds to it only there; ``spaces``: the dicts of the user's modules it reads, or whose functions
    it calls, by a global name)."""
    free = {}
    code = getattr(fn, "__code__", None)
    for name, cell in zip(getattr(code, "co_freevars", ()), getattr(fn, "__closure__", None) or ()):
        try:
            free[name] = cell.cell_contents
        except ValueError:
            pass
    spaces = [free, getattr(fn, "__globals__", {}), vars(__import__("builtins"))]
    names = SimpleNamespace(**{**vars(names), "resolve": lambda name: next(
        (space[name] for space in spaces if name in space), None)})
    hooks = changing_hooks(classes_within_reach(fn, param_kinds, free, names.spaces,
                                                lambda c: class_hooks(c) or context_hooks(c)))
    import gast
    from .ir import walk_nodes
    statements = list(_statements(body))        # (one walk, read three times)
    callbacks = {key: labels for key, s, _ in statements for labels in [_callbacks(s, names)] if labels}
    if not hooks and not callbacks and not any(isinstance(s, gast.With) for _, s, _ in statements):
        return {}
    others = {h: label for h, label in hooks.items() if h not in _CONTEXT}     # (what a with's header runs only)
    plain = names.plain | _array_locals(body, names.plain, names.library)
    stored = {n.id for n in walk_nodes(gast.Module(body=list(body), type_ignores=[])) if isinstance(n, gast.Name)
              and isinstance(n.ctx, (gast.Store, gast.Del))}
    names = SimpleNamespace(**{**vars(names), "classes": {k: v for k, v in names.classes.items() if k not in stored}})
    out: Dict[int, tuple] = {}
    for key, s, rebound in statements:
        if isinstance(s, gast.With):
            found = _statement_check(s, plain, rt_name, hooks, names, rebound) if hooks else \
                _with_check(s, plain, names)
        else:
            found = _statement_check(s, plain, rt_name, others, names, rebound) if others else None
        if key in callbacks:
            checked, shown = found if found is not None else ((), None)
            found = checked, ", ".join(([shown] if shown else []) + callbacks[key][:3])
        if found is not None:
            out[key] = (getattr(s, "lineno", None) or code.co_firstlineno,) + found
    return out


def _callbacks(s, names) -> list:
    """``f()`` for each function of the user's that ``s`` gives a library's function to call (``sorted(v,
    key=f)``, ``functools.reduce(f, vs)``, ``np.apply_along_axis(f, 0, a)``) and that may change an object: the
    library runs it again where the code is recomputed (a call of the user's own is replayed, it runs once)."""
    import gast
    from .ir import walk_nodes
    out: list = []
    for n in walk_nodes(s):
        if not isinstance(n, gast.Call):
            continue
        func = _resolved(n.func, names)
        if func is None or not callable(func) or not (library_code(func) or isinstance(func, types.BuiltinFunctionType)
                                                      or isinstance(func, type) and func.__module__ == "builtins"):
            continue        # (not a library's: a call of the user's is replayed, or not known)
        for a in list(n.args) + [k.value for k in n.keywords]:
            f = _resolved(a, names) if isinstance(a, (gast.Name, gast.Attribute)) else None
            if isinstance(a, gast.Lambda):
                changes = any(isinstance(m, gast.Call) and not _pure_call(m, names) for m in walk_nodes(a.body))
                label = "the lambda"
            elif isinstance(f, (types.FunctionType, types.MethodType)) and not library_code(f):
                changes, label = _may_change(f), f"{f.__name__}()"
            else:
                continue
            if changes and f"{label} given to a library's function" not in out:
                out.append(f"{label} given to a library's function")
    return out


def _pure_call(n, names) -> bool:
    """A call in a lambda that changes nothing of the user's: a library's function or Python's pure builtins."""
    import gast
    if isinstance(n.func, gast.Name) and n.func.id in _PURE_BUILTINS:
        return True
    f = _resolved(n.func, names)
    return f is not None and library_code(f) and not (isinstance(n.func, gast.Attribute) and
                                                      n.func.attr in ("append", "extend", "update", "pop", "add"))


def _statement_check(s, plain: Set[str], rt_name: str, hooks: Dict[str, str], names, rebound: Set[str]):
    """(((name, hooks), ...), shown) of statement ``s`` (see hook_checks), or None."""
    import gast
    s = _module_fields(s, names.modules)
    entered = _context_objects(s, hooks, names) if isinstance(s, gast.With) else []
    subjects = hook_subjects(s, plain, rt_name, frozenset(hooks), names.helpers, True)
    if subjects is None:
        return ((), ", ".join(entered[:3])) if entered else None
    checked, shown = [], list(entered)
    unnamed = subjects is True
    # (a comprehension's, a lambda's own names, and what a lambda or a generator reads later: no object here)
    rebound = rebound | bound_inside(s) | _read_later(s)
    for subject in () if unnamed else subjects:
        others = plain | (set(subjects) - {subject})
        runs = [h for h in hooks if hook_subjects(s, others, rt_name, frozenset((h,)), names.helpers, True)
                is not None]
        made = names.made.get(subject)
        known = names.classes.get(subject)
        if made is not None:            # (made anew where recomputed: its own fields are new ones)
            mine = changing_hooks({made}, True)
            shown += [mine[h] for h in runs if h in mine and mine[h] not in shown]
        elif subject in rebound or _conditional(s, subject):
            shown += [hooks[h] for h in runs if hooks[h] not in shown]
        elif known is None or any(h in changing_hooks(known) for h in runs):
            checked.append((subject, " ".join(sorted(runs))))
    if unnamed:
        shown += [label for h, label in hooks.items()
                  if hook_subjects(s, plain, rt_name, frozenset((h,)), names.helpers, True) is not None]
    if not checked and not shown:
        return None
    shown.sort(key=lambda label: label.split(".")[-1].startswith("__"))
    return tuple(checked), ", ".join(shown[:3]) if shown else None


def _with_check(s, plain: Set[str], names):
    """``_statement_check`` of a with statement's header where no class within reach has implicit code that
    may change an object: what it enters by a name (checked on its object at run time: a
    ``@contextlib.contextmanager``'s, say) and what it makes there (``with timer(cfg):``)."""
    import gast
    entered = _context_objects(s, {}, names)
    checked = tuple((item.context_expr.id, " ".join(_CONTEXT)) for item in s.items
                    if isinstance(item.context_expr, gast.Name) and item.context_expr.id not in plain)
    if not checked and not entered:
        return None
    return checked, ", ".join(entered[:3]) if entered else None


def _context_objects(s, hooks: Dict[str, str], names) -> list:
    """What a with statement's header enters that is no name (``with Timer(cfg):``, ``with self.timer:``) and
    whose ``__enter__``/``__exit__`` may change an object: refused where recomputed (a name's object is checked at
    run time, as any statement's).  An object made there of a class the compiler resolves is made anew where
    recomputed: only what its methods change beyond its own fields counts; a library's context manager
    (``np.errstate``, ``warnings.catch_warnings``) changes nothing of the user's."""
    import gast
    out: list = []
    for item in s.items:
        e = item.context_expr
        if isinstance(e, gast.Name):
            continue
        made = e.func if isinstance(e, gast.Call) else None
        cls = _resolved(made, names) if made is not None else _resolved(e, names)
        if made is not None and isinstance(cls, type):
            mine = changing_hooks({cls}, True) if not library_code(cls) else {}
        elif cls is not None and made is None and not isinstance(cls, (type, types.ModuleType)):
            mine = changing_hooks({type(cls)})      # (a field of a module's: its object as it is now)
        elif made is not None and cls is not None and library_code(cls):
            mine = {}           # (a library's function making its context manager)
        elif made is not None and inspect.isgeneratorfunction(inspect.unwrap(cls)):
            # (``@contextlib.contextmanager``: the generator's code runs at __enter__ and __exit__)
            label = f"{getattr(cls, '__name__', 'the context manager')}()"
            mine = {h: label for h in _CONTEXT} if _may_change(cls) else {}
        else:
            mine = hooks        # (not resolved: any within reach)
        for h in _CONTEXT:
            if h in mine and mine[h] not in out:
                out.append(mine[h])
    return out


def _resolved(node, names):
    """The value of a name or a chain of module fields (``Timer``, ``np.errstate``, ``mod.T``) in the function's
    namespace, or None (``self.timer``, a call's result, an unknown name)."""
    import gast
    path = []
    while isinstance(node, gast.Attribute):
        path.append(node.attr)
        node = node.value
    if not isinstance(node, gast.Name) or getattr(names, "resolve", None) is None:
        return None
    value = names.resolve(node.id)
    for attr in reversed(path):
        if not isinstance(value, types.ModuleType):
            return None         # (a field of anything but a module may run code of the user's to read)
        value = vars(value).get(attr)
    return value


def _module_fields(s, modules: Set[str]):
    """``s`` with each ``mod.S`` of a module of the user's a name ``"mod.S"``: an object checked as a name's
    (was: read as a library's path, ``othermod.S.lr`` of a counting property ran twice, red57c W3)."""
    import copy
    import gast
    from .ir import walk_nodes
    if not modules or not any(isinstance(n, gast.Attribute) and isinstance(n.value, gast.Name) and
                              n.value.id in modules for n in walk_nodes(s)):
        return s
    s = copy.deepcopy(s)
    for n in walk_nodes(s):
        for field, value in gast.iter_fields(n):
            for i, v in enumerate(value if isinstance(value, list) else [value]):
                if isinstance(v, gast.Attribute) and isinstance(v.value, gast.Name) and v.value.id in modules \
                        and isinstance(v.ctx, gast.Load):
                    new = gast.Name(id=f"{v.value.id}.{v.attr}", ctx=gast.Load(), annotation=None, type_comment=None)
                    if isinstance(value, list):
                        value[i] = new
                    else:
                        setattr(n, field, new)
    return s


def _read_later(s) -> Set[str]:
    """The names a lambda's body or a generator expression of ``s`` reads: read when it is called or walked,
    maybe bound only after ``s``."""
    import gast
    from .ir import walk_nodes
    return {m.id for n in walk_nodes(s) if isinstance(n, (gast.Lambda, gast.GeneratorExp))
            for m in walk_nodes(n.body if isinstance(n, gast.Lambda) else n) if isinstance(m, gast.Name)}


def _conditional(s, name: str) -> bool:
    """Whether ``s`` reads ``name`` only where a branch of an ``a if c else b``, a later operand of ``and``/``or``
    may leave it unread (and maybe unbound there)."""
    import gast
    from .ir import walk_nodes
    for n in walk_nodes(s):
        parts = [n.body, n.orelse] if isinstance(n, gast.IfExp) else n.values[1:] if isinstance(n, gast.BoolOp) \
            else []
        if any(isinstance(m, gast.Name) and m.id == name for p in parts for m in walk_nodes(p)):
            return True
    return False


def _array_locals(body, plain: Set[str], library: Set[str]) -> Set[str]:
    """The local names bound only to a constant, a library function's result (``y = np.sum(...)``, ``g =
    dlgradient(y, x)``) or arithmetic of such names: no object of the user's (the arguments of those calls are
    the statement's own uses)."""
    import gast
    from .ir import bound_only_to, walk_nodes
    bindings: Dict[str, list] = {}
    for n in walk_nodes(gast.Module(body=list(body), type_ignores=[])):
        if isinstance(n, gast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], gast.Name):
            bindings.setdefault(n.targets[0].id, []).append(n.value)
            continue
        for m in walk_nodes(n) if isinstance(n, (gast.Assign, gast.AugAssign, gast.For, gast.With,
                                                  gast.NamedExpr, gast.comprehension, gast.AnnAssign)) else ():
            if isinstance(m, gast.Name) and isinstance(m.ctx, (gast.Store, gast.Del)):
                bindings.setdefault(m.id, []).append(None)
    return bound_only_to(bindings, plain, lambda v, names: _array_value(v, names, library))


def _array_value(v, plain: Set[str], library: Set[str]) -> bool:
    import gast
    if isinstance(v, gast.Constant):
        return True
    if isinstance(v, gast.Name):
        return v.id in plain
    if isinstance(v, gast.BinOp):
        return _array_value(v.left, plain, library) and _array_value(v.right, plain, library)
    if isinstance(v, gast.UnaryOp):
        return _array_value(v.operand, plain, library)
    if isinstance(v, (gast.Compare, gast.BoolOp, gast.IfExp)):     # (``cond_t = it_pos < n``: of such names)
        parts = [v.left] + v.comparators if isinstance(v, gast.Compare) else \
            v.values if isinstance(v, gast.BoolOp) else [v.test, v.body, v.orelse]
        return all(_array_value(e, plain, library) for e in parts)
    if isinstance(v, (gast.List, gast.Tuple, gast.Set)):      # (a list, a dict of arrays built here)
        return all(_array_value(e, plain, library) for e in v.elts)
    if isinstance(v, gast.Dict):
        return all(k is not None and _array_value(k, plain, library) and _array_value(e, plain, library)
                   for k, e in zip(v.keys, v.values))
    if isinstance(v, gast.Subscript):
        return _array_value(v.value, plain, library) and _array_value(v.slice, plain, library)
    if isinstance(v, gast.Call):
        f = v.func
        while isinstance(f, gast.Attribute):
            f = f.value
        return isinstance(f, gast.Name) and f.id in library
    return False


def _statements(body, rebound=frozenset()):
    """``(id of the statement, the statement or its header, the names its check may find unbound or rebound
    since)`` for the simple statements of ``body`` and the headers of compound ones (an if's or a while's test,
    a for's walked sequence, a with's context managers), in order; a while's test reads again the names its body binds."""
    import gast
    from .ir import walk_nodes
    for s in body:
        if isinstance(s, (gast.If, gast.While)):
            inner = {n.id for b in s.body + s.orelse for n in walk_nodes(b) if isinstance(n, gast.Name) and
                     isinstance(n.ctx, (gast.Store, gast.Del))} if isinstance(s, gast.While) else set()
            yield id(s), type(s)(test=s.test, body=[], orelse=[], lineno=s.lineno), set(rebound) | inner
            yield from _statements(s.body, rebound)
            yield from _statements(s.orelse, rebound)
        elif isinstance(s, gast.For):
            yield id(s), gast.For(target=s.target, iter=s.iter, body=[], orelse=[], type_comment=None,
                                  lineno=s.lineno), rebound
            yield from _statements(s.body, rebound)
            yield from _statements(s.orelse, rebound)
        elif isinstance(s, (gast.With, gast.Try)):
            if isinstance(s, gast.With):    # (its header: the context manager's __enter__ and __exit__ run)
                yield id(s), gast.With(items=s.items, body=[], type_comment=None, lineno=s.lineno), rebound
            yield from _statements(getattr(s, "body", []), rebound)
            for h in getattr(s, "handlers", []):
                yield from _statements(h.body, rebound)
            yield from _statements(getattr(s, "orelse", []), rebound)
            yield from _statements(getattr(s, "finalbody", []), rebound)
        else:
            yield id(s), s, rebound
