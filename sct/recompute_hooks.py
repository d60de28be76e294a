"""Implicit code of the user's (a property, ``__index__``, ``__bool__``, a descriptor's ``__get__``...) in code a
second derivative recomputes (sct/forward_code.py ``recompute_guard``).

A second derivative recomputes the code before the inner dlgradient; an explicit call of the user's is replayed
there (it runs once) and an explicit write into an outside object is refused (sct/recompute_writes.py), but a
property read or an index ran again, and the outer gradient differentiated its second answer (was: a property
``lr`` advancing a global counter gave z 38.25, dz/dx [9, 72] where Python gives 153, [36, 288]; ``x[:CUT]`` with
a counting ``__index__`` gave [6, 12, 0] where [6, 0, 0], red57c W3).  Where such code may change an object and
may run in the recomputed code, that code is refused at the line (in a recomputation only, as the explicit
write is: rt.recompute_guard); code that changes nothing gives the same answer again and runs as it is.
"""
from __future__ import annotations

import ast
import inspect
import os
import textwrap
import types
from typing import Dict, Optional, Set, Tuple

from .implicit_hooks import classes_within_reach, hook_subjects
from .runtime.effects import class_hooks
from .runtime.origins import library_code

# calls of these (given a parameter) change nothing of it
_PURE_BUILTINS = frozenset(("len", "float", "int", "abs", "min", "max", "isinstance", "round", "bool", "str",
                            "repr", "type", "id", "hash", "sum", "range", "tuple", "list", "sorted", "iter",
                            "getattr", "hasattr", "print", "format", "divmod", "pow", "enumerate", "zip"))


def changing_hooks(classes, made_here: bool = False) -> Dict[str, str]:
    """hook name -> ``Class.name`` (``A.lr or B.lr``) for the implicit code of ``classes`` that may change an
    object (its own ``self``, an argument, a global's or a closure's; ``made_here``: an object the function
    makes, which its recomputation makes anew: not its own ``self``): unsure counts as changing."""
    out: Dict[str, str] = {}
    for cls in sorted(classes, key=lambda c: c.__qualname__):
        for name in sorted(class_hooks(cls)):
            if any(_may_change(f, made_here) for f in _hook_functions(cls, name)):
                label = f"{cls.__name__}.{name}"
                out[name] = f"{out[name]} or {label}" if name in out else label
    return out


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
    where = f.__code__.co_filename
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
    args = tree.body[0].args if tree.body and isinstance(tree.body[0], (ast.FunctionDef, ast.AsyncFunctionDef)) \
        else None
    own = (args.posonlyargs + args.args)[0].arg if made_here and args and args.posonlyargs + args.args else None
    for n in ast.walk(tree):
        if isinstance(n, (ast.Global, ast.Nonlocal)):
            return True
        if isinstance(n, (ast.Attribute, ast.Subscript)) and isinstance(n.ctx, (ast.Store, ast.Del)) and \
                _root(n) not in (local - params) | {own}:
            return True         # (self.n += 1, T[0] = ...: an object from outside the hook's code)
        if isinstance(n, ast.Call):
            func = n.func
            if isinstance(func, ast.Attribute) and _root(func) in params:
                return True     # (self.bump(), self.log.append(v))
            if isinstance(func, ast.Name) and func.id not in _PURE_BUILTINS and \
                    any(isinstance(a, ast.Name) and a.id in params for a in n.args):
                return True     # (helper(self): it may change it)
            if isinstance(func, ast.Name) and func.id in ("setattr", "delattr", "next", "exec", "eval"):
                return True
    return False


def _root(n):
    while isinstance(n, (ast.Attribute, ast.Subscript, ast.Call)):
        n = n.func if isinstance(n, ast.Call) else n.value
    return n.id if isinstance(n, ast.Name) else None


def implicit_hook_line(body, fn, param_kinds, rt_name: str, names) -> Optional[Tuple[int, str]]:
    """(line, message) of the first statement of ``body`` that may run implicit code of the user's that changes
    an object, or None.  ``names``: what the compiler knows of the names (``plain``: whose use runs nothing;
    ``library``: numpy's, sct's and Python's modules and functions, whose results are no object of the user's;
    ``helpers``: the user's functions, compiled and replayed, whose uses of what they are given are theirs;
    ``classes``: name -> the classes of the object it holds, where known; ``made``: name -> the class of the
    object the function makes and binds to it only there)."""
    free = {}
    code = getattr(fn, "__code__", None)
    for name, cell in zip(getattr(code, "co_freevars", ()), getattr(fn, "__closure__", None) or ()):
        try:
            free[name] = cell.cell_contents
        except ValueError:
            pass
    hooks = changing_hooks(classes_within_reach(fn, param_kinds, free))
    if not hooks:
        return None
    plain = names.plain | _array_locals(body, names.plain, names.library)
    for s in _statements(body):
        ran = _hooks_run(s, plain, rt_name, hooks, names)
        if not ran:
            continue
        shown = ", ".join(sorted(ran, key=lambda label: label.split(".")[-1].startswith("__"))[:3])
        return (getattr(s, "lineno", None) or getattr(fn, "__code__", code).co_firstlineno,
                f"this line may run code of the user's that Python runs implicitly ({shown}: a property, an "
                f"operator, __index__, __bool__, __len__...) and that changes an object; a later dlgradient "
                f"differentiates a gradient computed from this code again, so sct recomputes it, which would "
                f"run that code a second time (Python runs it once). Read the value once in a helper function "
                f"(it runs once) or before the function and pass it in, or make that code change nothing")
    return None


def _hooks_run(s, plain: Set[str], rt_name: str, hooks: Dict[str, str], names) -> list:
    """The labels of ``hooks`` that statement ``s`` may run: of the classes a name it uses is known to hold,
    else of all the classes within reach."""
    subjects = hook_subjects(s, plain, rt_name, frozenset(hooks), names.helpers)
    if subjects is None:
        return []
    ran = []
    for subject in ([None] if subjects is True else subjects):
        classes = names.classes.get(subject) if subject is not None else None
        made = names.made.get(subject) if subject is not None else None
        mine = changing_hooks({made}, True) if made is not None else \
            hooks if classes is None else changing_hooks(classes)
        others = plain | (set(subjects) - {subject} if subjects is not True else set())
        for hook, label in mine.items():
            if label not in ran and hook_subjects(s, others, rt_name, frozenset((hook,)), names.helpers) is not None:
                ran.append(label)
    return ran


def _array_locals(body, plain: Set[str], library: Set[str]) -> Set[str]:
    """The local names bound only to a constant, a library function's result (``y = np.sum(...)``, ``g =
    dlgradient(y, x)``) or arithmetic of such names: no object of the user's (the arguments of those calls are
    the statement's own uses)."""
    import gast
    from .ir import walk_nodes
    bindings: Dict[str, list] = {}
    for n in walk_nodes(gast.Module(body=list(body), type_ignores=[])):
        if isinstance(n, gast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], gast.Name):
            bindings.setdefault(n.targets[0].id, []).append(n.value)
            continue
        for m in walk_nodes(n) if isinstance(n, (gast.Assign, gast.AugAssign, gast.For, gast.With,
                                                  gast.NamedExpr, gast.comprehension, gast.AnnAssign)) else ():
            if isinstance(m, gast.Name) and isinstance(m.ctx, (gast.Store, gast.Del)):
                bindings.setdefault(m.id, []).append(None)
    known = set(bindings) - plain
    changed = True
    while changed:
        changed = False
        for name in list(known):
            if not all(_array_value(v, plain | known, library) for v in bindings[name]):
                known.discard(name)
                changed = True
    return known


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


def _statements(body):
    """The simple statements of ``body``, compound ones' headers by their test or walked sequence, in order."""
    import gast
    for s in body:
        if isinstance(s, (gast.If, gast.While)):
            yield type(s)(test=s.test, body=[], orelse=[], lineno=s.lineno)
            yield from _statements(s.body)
            yield from _statements(s.orelse)
        elif isinstance(s, gast.For):
            yield gast.For(target=s.target, iter=s.iter, body=[], orelse=[], type_comment=None, lineno=s.lineno)
            yield from _statements(s.body)
            yield from _statements(s.orelse)
        elif isinstance(s, (gast.With, gast.Try)):
            yield from _statements(getattr(s, "body", []))
            for h in getattr(s, "handlers", []):
                yield from _statements(h.body)
            yield from _statements(getattr(s, "orelse", []))
            yield from _statements(getattr(s, "finalbody", []))
        else:
            yield s
