"""Calls whose results only a self-contained sweep needs, and which it runs again itself.

A gradient differentiated again (``dlgradient(..., EnableHigherDerivatives=True)`` read by a later
``dlgradient``) gets a self-contained sweep: it recomputes, from the function's arguments, every
statement before the site (``rt.replay_from(effects_start)`` ... ``rt.replay_end()``), so that the
later sweep can differentiate it as ordinary code.  The caller then often reads nothing of what it
computed itself before the site: in ``y = rosen(x); g = dlgradient(y, x, EnableHigherDerivatives=True)``
the caller's ``y = rosen(x)`` is dead, and the sweep computes ``y`` again at once.

``drop_recomputed`` removes such a statement from the caller where that is provably invisible:

- it assigns only names that nothing else in the caller reads or assigns;
- it is arithmetic (operators, indexing with constants, a few numpy functions) on names known to
  hold plain arrays or Python numbers (parameters of those kinds, values made so), which runs no
  user code; or it is a call, by name, of generated code resolved with the caller (sct.call_tree), unguarded,
  whose code runs no user code sct did not compile, no effect (``print``, random draws, I/O,
  ``warnings.warn``: ``rt.effect``...), and stores no attribute (``Compiled.opaque`` False), and whose
  function changes none of its arguments in place (sct.callee_effects.changes_arguments): so it
  logs nothing in the effects log (the positions the sweep replays from stay the same) and
  changes nothing anyone else sees;
- the sweep's recomputation holds the same statement (the same tree), in the same order as the
  other statements removed before the same site;
- between the statement and the sweep's call nothing else runs: it is followed (after other
  statements removed the same way) by ``rt.vjp_at(<site>, <the sweep>, ...)`` and the call of the
  sweep's forward.  The sweep runs the same call on the same values first thing after what
  preceded it in the caller, so the values, the warnings (each caught and shown once at the
  user's line, as before) and an error (raised by the same operation, at the same user line)
  are those of the statement in the caller.
"""
from __future__ import annotations

import types
from typing import Dict, List, Optional, Set

import gast
import numpy as np

from .runtime.origins import module_name, name_top
from .callee_effects import changes_arguments
from .ir import tree_changed, walk_nodes
from .runtime.support import CallSite, SiteEntry


def _is_comment(s) -> bool:
    from .emit import COMMENT
    return isinstance(s, gast.Expr) and isinstance(s.value, gast.Constant) and \
        isinstance(s.value.value, str) and s.value.value.startswith(COMMENT)


def _rt_call(node, rt_name: str, attr: str) -> bool:
    return isinstance(node, gast.Call) and isinstance(node.func, gast.Attribute) and \
        isinstance(node.func.value, gast.Name) and node.func.value.id == rt_name and node.func.attr == attr


def _recomputation(fn: gast.FunctionDef, rt_name: str) -> Optional[List]:
    """The statements a self-contained sweep runs again (between its top-level
    ``rt.replay_from(...)`` and ``rt.replay_end()``), or None."""
    start = None
    for i, s in enumerate(fn.body):
        if isinstance(s, gast.Expr) and _rt_call(s.value, rt_name, "replay_from"):
            if start is not None:
                return None
            start = i + 1
        elif isinstance(s, gast.Expr) and _rt_call(s.value, rt_name, "replay_end"):
            return fn.body[start:i] if start is not None else None
    return None


def effect_free_callees(tree) -> Set[str]:
    """The names by which the caller's code calls forward (or entry) code that has no effect and
    changes none of its arguments (see the module's docstring); ``tree``: sct.call_tree.CallTree."""
    names: Set[str] = set()
    bound = getattr(getattr(tree, "resolution", None), "bound", None) or {}
    for call, record in zip(getattr(tree, "calls", ()), getattr(tree, "records", ())):
        if record is None or not record.resolved or not record.names or record.guarded or \
                record.compiled is None or getattr(record.compiled, "opaque", True) or \
                record.op not in ("vjp", "primal_call"):
            continue
        b = bound.get(id(call.node))
        if b is None or b.compiled is not record.compiled or changes_arguments(b.callee):
            continue
        names.add(record.names[0])
    return names


def _targets(s) -> Optional[List[str]]:
    if not isinstance(s, gast.Assign) or len(s.targets) != 1:
        return None
    t = s.targets[0]
    if isinstance(t, gast.Name):
        return [t.id]
    if isinstance(t, gast.Tuple) and all(isinstance(e, gast.Name) for e in t.elts):
        return [e.id for e in t.elts]
    return None


def _sweep_call(s, sweeps: Dict[str, List], rt_name: str) -> Optional[str]:
    """The sweep whose pair ``s`` binds: ``(f, b) = rt.vjp_at(site, <sweep>, mask, ...)``."""
    if _targets(s) is None or not _rt_call(s.value, rt_name, "vjp_at") or len(s.value.args) < 2:
        return None
    target = s.value.args[1]
    return target.id if isinstance(target, gast.Name) and target.id in sweeps else None


def _dump(node) -> str:
    return gast.dump(node)


def drop_recomputed(generated, tree, rt_name: str, param_kinds=None, np_name: Optional[str] = "np") -> bool:
    """Remove, from the caller's forward code, the statements only a self-contained sweep needs
    and that it runs again at once (see the module's docstring).  ``param_kinds``: the kinds of
    the parameters (sct.kinds), for arithmetic on numbers and arrays; ``np_name``: numpy's name in
    the generated code (None: the name is not numpy's, no numpy call counts).  Returns whether any was."""
    functions = [f for f in generated.functions if isinstance(f, gast.FunctionDef)]
    sweeps = {}
    for f in functions:
        prefix = _recomputation(f, rt_name)
        if prefix is not None:
            sweeps[f.name] = prefix
    if not sweeps:
        return False
    callees = effect_free_callees(tree)
    results = _callee_results(tree, callees)
    changed = False
    for f in functions:
        if f.name in sweeps or f.name not in (generated.entry, getattr(generated, "fwd", None)):
            continue
        changed |= _drop_in(f, sweeps, callees, rt_name, param_kinds or {}, results, np_name)
    return changed


def _drop_in(fn: gast.FunctionDef, sweeps: Dict[str, List], callees: Set[str], rt_name: str,
             param_kinds: Dict, results: Set[str], np_name: str) -> bool:
    if any(isinstance(n, (gast.FunctionDef, gast.ClassDef, gast.Lambda, gast.Global, gast.Nonlocal))
           for s in fn.body for n in walk_nodes(s)):
        return False
    stores: Dict[str, int] = {}
    for n in walk_nodes(fn):        # (the parameters too: gast's are Names, ctx Param)
        if isinstance(n, gast.Name) and not isinstance(n.ctx, gast.Load):
            stores[n.id] = stores.get(n.id, 0) + 1
    body = fn.body
    numeric = _numeric_names(fn, stores, callees, param_kinds, results, np_name)
    removed: Set[int] = set()
    for i, s in enumerate(body):
        sweep = _sweep_call(s, sweeps, rt_name)
        if sweep is None:
            continue
        following = [t for t in body[i + 1:] if not _is_comment(t)]
        pair = _targets(s)
        if not following or len(pair) != 2 or not isinstance(following[0], gast.Assign) or \
                not isinstance(following[0].value, gast.Call) or \
                not isinstance(following[0].value.func, gast.Name) or following[0].value.func.id != pair[0]:
            continue                # the sweep's forward is not what runs next
        prefix = [_dump(t) for t in sweeps[sweep]]
        bound = len(prefix)         # matched statements lie before this position of the prefix
        k = i - 1
        while k >= 0:
            t = body[k]
            if _is_comment(t):
                k -= 1
                continue
            names = _targets(t)
            if names is None or not (_effect_free_call(t.value, callees) or
                                     (len(names) == 1 and names[0] in numeric and
                                      _numeric_expr(t.value, numeric, np_name))) or \
                    any(stores.get(n) != 1 for n in names) or \
                    _read_elsewhere(body, set(names), removed | {k}):
                break
            text = _dump(t)
            at = next((p for p in range(bound - 1, -1, -1) if prefix[p] == text), None)
            if at is None:
                break
            bound = at
            removed.add(k)
            k -= 1
    if not removed:
        return False
    fn.body = [s for k, s in enumerate(body) if k not in removed]
    return True


def _effect_free_call(value, callees: Set[str]) -> bool:
    return isinstance(value, gast.Call) and isinstance(value.func, gast.Name) and value.func.id in callees and \
        all(isinstance(a, (gast.Name, gast.Constant)) for a in value.args) and \
        all(k.arg is not None and isinstance(k.value, (gast.Name, gast.Constant)) for k in value.keywords)


def _read_elsewhere(body: List, names: Set[str], skip: Set[int]) -> bool:
    for k, s in enumerate(body):
        if k in skip:
            continue
        for n in walk_nodes(s):
            if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load) and n.id in names:
                return True
    return False


# --- arithmetic on numbers and arrays: no user code runs (no effect) -----------------------------------

_NUMERIC_BINOPS = (gast.Add, gast.Sub, gast.Mult, gast.Div, gast.FloorDiv, gast.Mod, gast.Pow, gast.MatMult)
_NUMERIC_UNARY = (gast.USub, gast.UAdd)
#: numpy functions of arrays and numbers that run no user code when given arrays and numbers
_NUMERIC_NP = frozenset({
    "sum", "mean", "exp", "log", "log1p", "expm1", "sin", "cos", "tan", "tanh", "sinh", "cosh",
    "sqrt", "square", "abs", "absolute", "negative", "multiply", "add", "subtract", "divide",
    "true_divide", "power", "maximum", "minimum", "dot", "matmul", "prod", "cumsum"})


def _numeric_kind(kind) -> bool:
    """A plain array (a dlarray's data) or a Python int, float or complex."""
    if not isinstance(kind, tuple) or not kind:
        return False
    if kind[0] == "dl":
        return True
    return kind[0] == "num" and len(kind) > 2 and kind[2] in (int, float, complex)


def _callee_results(tree, callees: Set[str]) -> Set[str]:
    """Of ``callees``, those whose value (the forward's first output) is a plain array or number."""
    found = set()
    for record in getattr(tree, "records", ()):
        if record is not None and record.names and record.names[0] in callees and \
                _numeric_kind(getattr(record.compiled, "result_kind", None)):
            found.add(record.names[0])
    return found


def _numeric_expr(node, numeric: Set[str], np_name: str) -> bool:
    if isinstance(node, gast.Name):
        return node.id in numeric
    if isinstance(node, gast.Constant):
        return type(node.value) in (int, float, complex)
    if isinstance(node, gast.BinOp):
        return isinstance(node.op, _NUMERIC_BINOPS) and _numeric_expr(node.left, numeric, np_name) and \
            _numeric_expr(node.right, numeric, np_name)
    if isinstance(node, gast.UnaryOp):
        return isinstance(node.op, _NUMERIC_UNARY) and _numeric_expr(node.operand, numeric, np_name)
    if isinstance(node, gast.Subscript):
        index = node.slice
        parts = index.elts if isinstance(index, gast.Tuple) else [index]
        return isinstance(node.value, gast.Name) and node.value.id in numeric and \
            all(_index_part(p, numeric) for p in parts)
    if isinstance(node, gast.Call):
        func = node.func
        return isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name) and \
            func.value.id == np_name and func.attr in _NUMERIC_NP and not node.keywords and \
            bool(node.args) and all(_numeric_expr(a, numeric, np_name) for a in node.args)
    return False


def _index_part(p, numeric: Set[str]) -> bool:
    if isinstance(p, gast.Slice):
        return all(v is None or _index_part(v, numeric) for v in (p.lower, p.upper, p.step))
    if isinstance(p, gast.UnaryOp) and isinstance(p.op, gast.USub):
        return _index_part(p.operand, numeric)
    if isinstance(p, gast.Constant):
        return type(p.value) is int
    return False


def _numeric_names(fn: gast.FunctionDef, stores: Dict[str, int], callees: Set[str], param_kinds: Dict,
                   results: Set[str], np_name: str) -> Set[str]:
    """Names of ``fn`` that hold plain arrays or numbers: parameters of such kinds, the values of
    ``results`` callees, and what arithmetic on them makes (top-level statements, assigned once)."""
    numeric = {p for p, k in param_kinds.items() if stores.get(p) == 1 and _numeric_kind(k)}
    for s in fn.body:
        names = _targets(s)
        if names is None or any(stores.get(n) != 1 for n in names):
            continue
        value = s.value
        if isinstance(value, gast.Call) and isinstance(value.func, gast.Name) and value.func.id in results \
                and len(names) == 2 and isinstance(s.targets[0], gast.Tuple):
            numeric.add(names[0])           # (value, residuals) = fwd(...)
        elif len(names) == 1 and isinstance(s.targets[0], gast.Name) and _numeric_expr(value, numeric, np_name):
            numeric.add(names[0])
    return numeric


def _plain_kind(kind) -> bool:
    """A parameter's kind that holds only arrays, Python numbers, strings, None and lists, tuples and
    dicts of those: nothing whose methods are a user's, no generator, iterator or function."""
    if not isinstance(kind, tuple) or not kind:
        return False
    if kind[0] in ("dl", "nd"):
        return True
    if kind[0] == "num":
        return len(kind) == 3 and kind[2] in (int, float, complex)
    if kind[0] == "const":
        return len(kind) == 2 and kind[1] in (bool, str, type(None))
    if kind[0] in ("seq", "map") and len(kind) == 3 and kind[1] in (list, tuple, dict):
        return all(_plain_kind(k[1] if kind[0] == "map" else k) for k in kind[2])
    return False


# modules whose functions, classes and constants generated code may read in a recomputation that skips
# the random-state watch: none of them draws unseen (numpy.random's draws are rt.effect calls: opaque)
_KNOWN_TOPS = ("numpy", "math", "cmath", "builtins", "sct", "runtime", "operator")


def _known_module(name) -> bool:
    name = name or ""
    return name_top(name) in _KNOWN_TOPS and not name.startswith("numpy.random")


def _plain_value(value, depth: int = 0) -> bool:
    """Data that runs no code when read: numbers, strings, arrays, None, and shallow containers of those."""
    if type(value) in (bool, int, float, complex, str, bytes, type(None), np.ndarray) or \
            isinstance(value, (np.generic, np.dtype)):
        return True
    if depth < 3 and type(value) in (tuple, list, frozenset):
        return all(_plain_value(v, depth + 1) for v in value)
    if depth < 3 and type(value) is dict:
        return all(_plain_value(k, depth + 1) and _plain_value(v, depth + 1) for k, v in value.items())
    return False


def _generated(value) -> bool:
    """Code sct generated; read without running a user's object's ``__getattr__`` (was: compiling ran it
    for ``__sct_generated__``, a side effect Python's run of the function has not, red2_56 W4)."""
    from .operand_checks import user_class
    if not isinstance(value, types.FunctionType) and user_class(type(value)):
        return False
    return bool(getattr(value, "__sct_generated__", False))


def _known_value(value, runtimes) -> bool:
    """A global or closure value generated code may read, call or pass on in a recomputation whose
    random-state watch is skipped: one that cannot draw random numbers sct does not see.  Numpy's (not
    numpy.random's), math's, Python's builtins and sct's own functions, classes and modules; code sct
    generated; the user's functions (called through call sites: their records say whether they run
    code sct did not compile); plain data.  Not: a library's other functions or objects (scipy.stats'
    rvs, a Generator's bit_generator.random_raw: they draw where sct cannot see it), objects."""
    if _plain_value(value) or any(value is r for r in runtimes):
        return True
    if isinstance(value, types.ModuleType):
        return _known_module(value.__name__)
    if _generated(value):
        return True
    if isinstance(value, types.FunctionType):
        filename = value.__code__.co_filename
        module = getattr(value, "__module__", None)
        if filename.startswith("<sct"):                 # guards and checks sct generated
            return True
        top = (module or "").split(".")[0]
        return _known_module(module) or (top not in ("scipy", "numpy") and not filename.startswith("<"))
    if isinstance(value, (CallSite, SiteEntry)):        # a call site (its record says what it runs)
        return True
    module = module_name(value) if callable(value) else None
    if isinstance(value, types.BuiltinFunctionType) and module is None:
        module = "builtins"
    # numpy's functions (np.sum is an array-function dispatcher), ufuncs and classes, math's, builtins
    return isinstance(module, str) and _known_module(module)


def draws_all_seen(generated, tree, rt_name: str) -> bool:
    """Whether no random draw in this generated code (and the code it calls by name) can escape the
    effects log: it runs no user code sct did not compile (``tree.opaque`` False), its callees compiled
    with it say the same of theirs, and every global or closure value it reads (a name, or a module's
    attribute chain) is :func:`_known_value` (a library's function or object, such as scipy.stats'
    ``norm.rvs`` or a global Generator's ``bit_generator``, can draw unseen: red team W)."""
    if getattr(tree, "opaque", True):
        return False
    namespace = getattr(getattr(tree, "resolution", None), "namespace", None)
    if namespace is None:
        return False
    for r in getattr(tree, "records", ()) or ():
        if r is not None and r.compiled is not None and not getattr(r.compiled, "draws_seen", False):
            return False
    runtimes = [v for k, v in namespace.items() if k in (rt_name, "sct_rt")]
    seen = set()        # (name, attributes...) of the reads found known (np.tanh: each read once)
    for fn in generated.functions:
        if not isinstance(fn, gast.FunctionDef):
            continue
        inner = set()
        reads = []
        for node in walk_nodes(fn):     # (one walk; the reads are filtered after it)
            cls = node.__class__
            if cls is gast.Attribute:
                inner.add(id(node.value))
                reads.append(node)
            elif cls is gast.Name:
                reads.append(node)
        for node in reads:
            if id(node) in inner:
                continue
            attrs = []
            root = node
            while isinstance(root, gast.Attribute):
                attrs.append(root.attr)
                root = root.value
            if not isinstance(root, gast.Name) or not isinstance(root.ctx, gast.Load) or \
                    root.id not in namespace:
                continue                # a local, a parameter, or an expression's attribute
            attrs.reverse()
            key = (root.id, *attrs)
            if key in seen:
                continue
            value = namespace[root.id]
            for k, attr in enumerate(attrs):
                if not (isinstance(value, types.ModuleType) or any(value is r for r in runtimes)):
                    if not _plain_value(value):
                        return False    # an attribute of an object (G.bit_generator, CFG.rng)
                    break
                value = getattr(value, attr, _MISSING)
                if value is _MISSING:
                    return False
            else:
                if not _known_value(value, runtimes):
                    return False
            seen.add(key)
    return True


#: methods of arrays and of plain lists, tuples and dicts, which call no user code on plain data
_VALUE_METHODS = frozenset((
    "sum", "mean", "prod", "max", "min", "reshape", "transpose", "astype", "copy", "item", "ravel",
    "flatten", "squeeze", "conj", "conjugate", "clip", "dot", "cumsum", "cumprod", "argmax", "argmin",
    "all", "any", "std", "var", "tolist", "swapaxes", "repeat", "round", "nonzero", "argsort", "trace",
    "diagonal", "get", "keys", "values", "items", "append", "pop", "index", "count", "extend", "insert"))
_UNSAFE_BUILTINS = frozenset(("exec", "eval", "compile", "open", "input", "__import__", "breakpoint",
                              "setattr", "delattr", "globals", "vars", "locals", "getattr", "hasattr",
                              "print", "iter", "next", "map", "filter", "sorted", "min", "max"))
_MISSING = object()
#: runtime functions of generated code that run user code sct did not compile (sct.call_tree reads it too)
USER_CODE_RT = ("user_call", "effect", "maybe_effect", "unnamed_call", "apply_layer")
_CALLING_NUMPY = frozenset(("apply_along_axis", "apply_over_axes", "vectorize", "frompyfunc", "piecewise",
                            "fromfunction", "fromiter", "nditer"))


def _known_callee(value) -> bool:
    """A function that draws no random numbers and runs no user code on plain data: sct's generated
    code, numpy's (not numpy.random's) and math's functions and ufuncs, most builtins."""
    if _generated(value):
        return True
    module = getattr(value, "__module__", None) or ""
    if module.startswith("sct.runtime") and callable(value) and not isinstance(value, type):
        return getattr(value, "__name__", None) not in USER_CODE_RT   # (sct's runtime read as source)
    if isinstance(value, np.ufunc):
        return True
    if isinstance(value, types.BuiltinFunctionType) and module == "builtins":
        return value.__name__ not in _UNSAFE_BUILTINS
    if isinstance(value, type) and module == "builtins":
        return value in (int, float, complex, bool, tuple, list, dict, range, slice, zip, enumerate, reversed)
    if module.split(".")[0] == "numpy" and not module.startswith("numpy.random") and callable(value) and \
            not isinstance(value, type):
        return getattr(value, "__name__", None) not in _CALLING_NUMPY    # (not those calling what they are given)
    return module in ("math", "cmath") and callable(value)


def _site_pair_targets(node, rt_name: str, sites: Set[str], others: Set[str]) -> None:
    """Note the names an assignment binds: to a call site's code (``(f, b) = rt.X_at(site, ...)`` or
    the guarded ``(f, b) = (generated pair) if rt.guard_holds(...) else rt.X_at(...)``) in ``sites``;
    to anything but None, a tape's pop, another name or an item of a name (the residuals a forward
    hands its adjoint) in ``others``."""
    value = node.value
    site = len(node.targets) == 1 and isinstance(node.targets[0], gast.Tuple) and (
        isinstance(value, gast.Call) and isinstance(value.func, gast.Attribute) and
        isinstance(value.func.value, gast.Name) and value.func.value.id == rt_name and
        value.func.attr.endswith("_at") or
        isinstance(value, gast.IfExp) and _rt_call(value.test, rt_name, "guard_holds"))
    carried = isinstance(value, (gast.Name, gast.Subscript)) or \
        isinstance(value, gast.Constant) and value.value is None or \
        isinstance(value, gast.Call) and isinstance(value.func, gast.Attribute) and \
        value.func.attr == "pop" and not value.args
    if site or not carried:
        into = sites if site else others
        for t in node.targets:
            for n in walk_nodes(t):
                if isinstance(n, gast.Name):
                    into.add(n.id)


def _known_call(node, rt_name: str, namespace, local: Set[str], pairs: Set[str], own: Set[str]) -> bool:
    """The call ``node`` is one of sct's runtime (not one that runs user code: rt.user_call,
    rt.effect...), a known callee (_known_callee) by name or module attribute, a method of an array or
    a plain container (_VALUE_METHODS), a call site's code (``pairs``) or the module's own function."""
    func = node.func
    if isinstance(func, gast.Name):
        if func.id in pairs or func.id in own and func.id not in local:
            return True             # a call site's code (its record checked by the caller), or its own
        return func.id not in local and _known_callee(namespace.get(func.id, _MISSING))
    chain = []
    while isinstance(func, gast.Attribute):
        chain.append(func.attr)
        func = func.value
    if not isinstance(func, gast.Name) or not chain:
        return False
    chain.reverse()
    if func.id == rt_name and func.id not in local:
        return len(chain) == 1 and chain[0] not in USER_CODE_RT
    if func.id in local:
        return len(chain) == 1 and chain[0] in _VALUE_METHODS
    value = namespace.get(func.id, _MISSING)
    if not isinstance(value, types.ModuleType) or value.__name__.split(".")[0] not in ("numpy", "math", "cmath"):
        return False
    for attr in chain:
        value = getattr(value, attr, _MISSING)
    return _known_callee(value)


def _calls_only_known(generated, rt_name: str, namespace) -> Optional[List]:
    """The ``rt.replay_from`` calls of the generated functions where every call of theirs is known
    (_known_call; a sweep is given its caller's pairs as parameters of the same names, so the pairs
    are the module's), else None.  One walk of each function."""
    functions = [f for f in generated.functions if isinstance(f, gast.FunctionDef)]
    own = {f.name for f in functions}
    sites: Set[str] = set()
    others: Set[str] = set()
    found = []
    for fn in functions:
        local = {a.id for a in fn.args.args if isinstance(a, gast.Name)}
        calls = []
        for node in walk_nodes(fn):
            cls = node.__class__
            if cls is gast.Call:
                calls.append(node)
            elif cls is gast.Name:
                if isinstance(node.ctx, gast.Store):
                    local.add(node.id)
            elif cls is gast.Assign:
                _site_pair_targets(node, rt_name, sites, others)
            elif cls is gast.Lambda:
                return None
        found.append((local, calls))
    pairs = sites - others
    replays = []
    for local, calls in found:
        for node in calls:
            if not _known_call(node, rt_name, namespace, local, pairs, own):
                return None
            if _rt_call(node, rt_name, "replay_from"):
                replays.append(node)
    return replays


def unwatched_replays(generated, tree, rt_name: str, param_kinds, namespace, seen: bool = False) -> bool:
    """``rt.replay_from(start)`` becomes ``rt.replay_from(start, False)`` where the recomputation
    cannot draw random numbers unseen: the generated code runs no user code sct did not compile
    (``tree.opaque`` False: sct.call_tree), calls only sct's runtime, numpy (not numpy.random),
    math, builtins, methods of arrays and generated code whose own calls are so (``Compiled.draws_seen``:
    a library's ``scipy.stats.norm.rvs`` draws from numpy's global generator), and every parameter
    holds only plain data (no generator or iterator to check as used up, no object of a user's class
    whose methods could draw).  Its known draws are replayed from the effects log as before; what is
    skipped is the capture and comparison of numpy's and Python's global random states (about 50
    microseconds per recomputation).  Returns whether the code calls only such functions.  ``seen``:
    :func:`draws_all_seen` of the same code (red team W's test of the values it reads: a library's object
    such as a global Generator's ``bit_generator``); the watch is dropped only where both tests hold, and
    both together are what the callers read (``Compiled.draws_seen``, sct/compiler.py)."""
    if getattr(tree, "opaque", True) or param_kinds is None:
        return False
    deferred = getattr(tree, "deferred", ())
    for i, record in enumerate(getattr(tree, "records", ())):
        if i in deferred:
            continue            # calls of this code's own generated functions, walked below
        if record is None or not record.resolved or not getattr(record.compiled, "draws_seen", False):
            return False
    replays = _calls_only_known(generated, rt_name, namespace)
    if replays is None:
        return False
    if replays and seen and all(_plain_kind(k) for k in param_kinds.values()):
        for fn in generated.functions:      # (inside sct.ir.shared_walks: walked afresh after)
            tree_changed(fn)
        for node in replays:
            if len(node.args) == 1 and not node.keywords:
                node.args.append(gast.Constant(value=False, kind=None))
    return True
