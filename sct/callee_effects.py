"""What a user's function does to what it is given, read from its source (for the aliasing
analysis, sct/aliasing.py): whether every value it returns is new (``_returns_fresh``), whether it
changes nothing in place (``_pure``), and whether a call of it may change an argument, its receiver
or an object reachable from them (``changes_arguments``: may the call be replayed instead of run
again?).  Each answers True only where the source shows it; unsure is the safe answer.
"""
from __future__ import annotations

import threading
import types
from typing import Dict, List, Set, Tuple

import gast
import numpy as np

from .runtime import registry
from .runtime.origins import module_top
from .alias_state import (COPY_BUILTINS, IMMUTABLE_BUILTINS, MUTATORS, VIEW_FUNCTIONS, may_not_copy,
                          WRITING_FUNCTIONS, _dotted)
from .array_returns import nested_def as _nested_def, numpy_function as _numpy_function
from .ir import loaded_names, walk_no_defs, walk_nodes

# --- does every return give a new object? ----------------------------------------------------------

_FRESH_CACHE: Dict = {}


def _returns_fresh(fn) -> bool:
    """Does every ``return`` of the plain function ``fn`` give a new object: an arithmetic
    result, a literal or comprehension, a numpy call that is not a view, or a local name bound
    only to such values?"""
    if not isinstance(fn, types.FunctionType):
        return False
    if registry.has_new_results(fn):
        return True             # (one of sct's deep-learning functions declared to return new arrays)
    key = fn.__code__
    if key in _FRESH_CACHE:
        return _FRESH_CACHE[key]
    _FRESH_CACHE[key] = False
    try:
        from .parse import function_ast
        fdef, _, _ = function_ast(fn)
    except Exception:
        return False
    if len(_FRESH_CACHE) > 4096:
        _FRESH_CACHE.clear()
    bindings, others = _bindings(fdef)
    params = {a.id for a in fdef.args.posonlyargs + fdef.args.args + fdef.args.kwonlyargs} | \
        {a.id for a in (fdef.args.vararg, fdef.args.kwarg) if a is not None}
    returns = [n for n in walk_no_defs(fdef) if isinstance(n, gast.Return)]
    # (a view returned of a local made here, ``return np.reshape(flat, shape)``: the local is handed
    # to that call only, so it does not count as kept)
    viewed = {id(r.value): r.value for r in returns if _view_of_name(fn, r.value) is not None}
    kept = _kept_names(fn, fdef, skip=frozenset(viewed))
    if any(isinstance(n, (gast.FunctionDef, gast.Lambda, gast.NamedExpr)) and n is not fdef for n in gast.walk(fdef)):
        _FRESH_CACHE[key] = False           # a closure may keep any local
        return False

    def new_local(name) -> bool:
        return name not in params and name not in others and name not in kept and \
            name in bindings and all(_fresh_value(fn, b) for b in bindings[name])
    ok = bool(returns)
    for r in returns:
        v = r.value
        if _fresh_value(fn, v):
            continue
        if isinstance(v, gast.Name) and new_local(v.id):
            continue
        if id(v) in viewed and new_local(_view_of_name(fn, v)):
            continue            # a view of a new array made here: new to the caller too
        ok = False
    _FRESH_CACHE[key] = ok
    return ok


def returns_may_hold(fn) -> bool:
    """May a value the function ``fn`` returns hold an object (an argument, what one reaches)?  False only where
    every ``return`` of its source gives a value holding none: a number, a string, a new array of numbers
    (``return np.tanh(h * q)``, ``return sum(...) / len(hs)``), a tuple of such, read as the points-to analysis reads
    an operation (a quotient, a power, a matrix product, a numpy ufunc's result holds no object).  True where unsure
    (``return {"c": c}``, a name bound to anything else, a generator, a closure).  (The self-holding gate:
    ``c.d = make(c)`` may store c into itself, ``h = attend(hs, W); hs.append(h)`` does not.)"""
    if not isinstance(fn, types.FunctionType):
        return True
    return _by_code(_MAY_HOLD, fn, None, lambda: not _returns_hold_nothing(fn))


_MAY_HOLD: Dict = {}


def _returns_hold_nothing(fn) -> bool:
    from .parse import function_ast
    fdef, _, _ = function_ast(fn)
    if any(isinstance(n, (gast.FunctionDef, gast.Lambda, gast.NamedExpr, gast.Yield, gast.YieldFrom, gast.Global,
                          gast.Nonlocal)) and n is not fdef for n in gast.walk(fdef)):
        return False
    bindings, others = _bindings(fdef)
    params = {a.id for a in fdef.args.posonlyargs + fdef.args.args + fdef.args.kwonlyargs} | \
        {a.id for a in (fdef.args.vararg, fdef.args.kwarg) if a is not None} | \
        {m.id for n in gast.walk(fdef) if isinstance(n, gast.comprehension) for m in gast.walk(n.target)
         if isinstance(m, gast.Name)}         # (and a comprehension's names: ``[h for h in hs]`` holds hs' items)

    def nothing(v, depth=0) -> bool:
        if depth > 8:
            return False
        if isinstance(v, gast.Constant):
            return not isinstance(v.value, (list, dict, set))
        if isinstance(v, (gast.Compare, gast.JoinedStr)) or isinstance(v, gast.UnaryOp) and isinstance(v.op, gast.Not):
            return True
        if isinstance(v, gast.UnaryOp):
            return nothing(v.operand, depth + 1)
        if isinstance(v, gast.BinOp):
            # (a quotient, a power, a matrix product: numbers; a sum, difference or product with one, or with a
            # float, too: ``x @ W + b``; not ``[c] * 2`` nor ``l + [c]``)
            return isinstance(v.op, (gast.Div, gast.Pow, gast.MatMult, gast.FloorDiv, gast.Mod)) or \
                isinstance(v.op, (gast.Add, gast.Sub, gast.Mult)) and any(
                    isinstance(o, gast.Constant) and type(o.value) in (float, complex) or
                    not isinstance(o, gast.Constant) and nothing(o, depth + 1) for o in (v.left, v.right))
        if isinstance(v, (gast.Tuple, gast.List, gast.Set)):       # (a new list of new arrays: ``[np.tanh(z)]``)
            return all(nothing(e, depth + 1) for e in v.elts)
        if isinstance(v, gast.Dict):
            return None not in v.keys and all(nothing(e, depth + 1) for e in v.keys + v.values)
        if isinstance(v, (gast.ListComp, gast.SetComp, gast.DictComp)):  # (not a generator: it holds its frame)
            return all(nothing(e, depth + 1) for e in ([v.key, v.value] if isinstance(v, gast.DictComp) else [v.elt]))
        if isinstance(v, gast.Call) and isinstance(v.func, gast.Name) and v.func.id not in fn.__code__.co_varnames:
            _note_callee(fn.__globals__, v.func.id)
            callee = fn.__globals__.get(v.func.id)
            if isinstance(callee, types.FunctionType):      # (a helper of the user's: read in turn)
                return callee is not fn and not returns_may_hold(callee)
        if isinstance(v, gast.Call):
            return isinstance(_numpy_function(fn, v.func), np.ufunc) and \
                not any(k.arg in ("out", None) for k in v.keywords)
        if isinstance(v, gast.Name):
            return v.id not in params and v.id not in others and v.id in bindings and \
                all(nothing(b, depth + 1) for b in bindings[v.id])
        return False
    returns = [n for n in walk_no_defs(fdef) if isinstance(n, gast.Return)]
    return bool(returns) and all(r.value is not None and nothing(r.value) for r in returns)


_VIEW_METHODS = frozenset(("reshape", "ravel", "transpose", "squeeze", "swapaxes", "view", "flatten", "copy"))


def _view_of_name(fn, node):
    """The local name ``node`` (in ``fn``) is a view of (or a copy: no less new), or None:
    ``np.reshape(a, s)`` and numpy's other functions viewing their first argument only,
    ``a.reshape(...)``, ``a.ravel()``, ``a.T``."""
    if isinstance(node, gast.Attribute) and node.attr == "T" and isinstance(node.value, gast.Name):
        return node.value.id
    if not isinstance(node, gast.Call) or any(isinstance(a, gast.Starred) for a in node.args):
        return None
    func = node.func
    if isinstance(func, gast.Attribute) and func.attr in _VIEW_METHODS and isinstance(func.value, gast.Name) and \
            func.value.id in fn.__code__.co_varnames:
        return func.value.id
    if node.args and isinstance(node.args[0], gast.Name):
        value = _numpy_function(fn, func)
        if value is not None and getattr(value, "__name__", "") in _FIRST_ARGUMENT_VIEWS:
            return node.args[0].id
    return None


# numpy's functions whose value may be a (writeable) view of their first argument, never of another
# (not np.diagonal, nor np.imag of a real array: read-only, which numpy refuses to write into; was: new, so
# ``r = h(x); r[0] = 5.0`` of ``def h(a): t = a * 2.0; return np.diagonal(t)`` ran where Python raises)
_FIRST_ARGUMENT_VIEWS = frozenset((
    "reshape", "ravel", "transpose", "permute_dims", "matrix_transpose", "swapaxes", "moveaxis", "rollaxis",
    "squeeze", "expand_dims", "asarray", "asanyarray", "ascontiguousarray", "asfortranarray", "real",
    "flip", "fliplr", "flipud", "rot90"))


def new_results_callee(fn, func):
    """The function declared to return new arrays (runtime/registry.py ``new_results``: ``layernorm``,
    ``l2loss``, ...) that the called ``func`` names in ``fn`` -- a global name ``fn`` does not bind, or one read
    through a module, ``sct.layernorm`` -- or None."""
    code = getattr(fn, "__code__", None)
    bound = set(getattr(code, "co_varnames", ())) | set(getattr(code, "co_cellvars", ())) | \
        set(getattr(code, "co_freevars", ()))
    chain = []
    while isinstance(func, gast.Attribute):
        chain.append(func.attr)
        func = func.value
    if not isinstance(func, gast.Name) or func.id in bound:
        return None
    value = getattr(fn, "__globals__", {}).get(func.id)
    for name in reversed(chain):
        if not isinstance(value, types.ModuleType):
            return None
        value = getattr(value, name, None)
    return value if value is not None and registry.has_new_results(value) else None


def one_new_result(value, call) -> bool:
    """Does the ``call`` of ``value``, a function declared to return new arrays, return one array: a function
    with one output, or one whose MATLAB nargout may ask for several (``sct_asked_outputs``: lstm, batchnorm)
    given ``nargout=1`` (not a tuple of them)?"""
    nargout = [k.value for k in call.keywords if k.arg == "nargout"]
    return not getattr(value, "sct_asked_outputs", ()) or len(nargout) == 1 and \
        isinstance(nargout[0], gast.Constant) and type(nargout[0].value) is int and nargout[0].value == 1


def _fresh_call(fn, node) -> bool:
    """Is ``node`` (a call in ``fn``) a numpy function or ufunc that makes a new array, or a function declared
    to return new arrays (``new_results_callee``)?"""
    if new_results_callee(fn, node.func) is not None:
        return True
    value = _numpy_function(fn, node.func)
    name = getattr(value, "__name__", "")
    return value is not None and name not in VIEW_FUNCTIONS and name not in WRITING_FUNCTIONS and \
        not may_not_copy(node)


def _fresh_value(fn, node) -> bool:
    if isinstance(node, (gast.BinOp, gast.UnaryOp, gast.List, gast.Tuple, gast.Dict,
                         gast.ListComp, gast.DictComp)):
        return True
    return isinstance(node, gast.Call) and _fresh_call(fn, node)


def _bindings(fdef) -> Tuple[Dict[str, List], Set[str]]:
    """The values each local name is assigned (``name = value``), and the names bound otherwise
    (unpacking, a loop, ``with``, an annotated assignment)."""
    bindings: Dict[str, List] = {}
    others = set()
    for n in walk_no_defs(fdef):
        if isinstance(n, gast.Assign):
            for t in n.targets:
                if isinstance(t, gast.Name):
                    bindings.setdefault(t.id, []).append(n.value)
                else:
                    others |= {m.id for m in gast.walk(t) if isinstance(m, gast.Name)}
        elif isinstance(n, (gast.For, gast.AugAssign, gast.AnnAssign, gast.With)):
            target = n.target if not isinstance(n, gast.With) else None
            if target is not None and not isinstance(n, gast.AugAssign):
                others |= {m.id for m in gast.walk(target) if isinstance(m, gast.Name)}
    return bindings, others


def _kept_names(fn, fdef, skip: frozenset = frozenset()) -> Set[str]:
    """A name handed to a call, put in a literal, bound to another name or stored elsewhere
    may be kept there: its value is not new to the caller.  ``skip``: ids of calls not counted."""
    kept = set()
    for n in walk_no_defs(fdef):
        children = []
        if isinstance(n, gast.Call) and id(n) not in skip and not _fresh_call(fn, n):     # numpy ops keep nothing
            children = list(n.args) + [k.value for k in n.keywords]
        elif isinstance(n, (gast.List, gast.Tuple, gast.Set)):
            children = list(n.elts)
        elif isinstance(n, gast.Dict):
            children = list(n.values)
        elif isinstance(n, (gast.Assign, gast.AnnAssign)) and n.value is not None:
            children = [n.value]
        elif isinstance(n, (gast.Yield, gast.YieldFrom, gast.Lambda, gast.FunctionDef)) and n is not fdef:
            children = list(gast.walk(n))
        for c in children:
            if isinstance(c, gast.Starred):
                c = c.value
            if isinstance(c, gast.Name):
                kept.add(c.id)
    return kept


# --- does a function change nothing in place? -----------------------------------------------------

def _own_writes(fn, fdef) -> Set[int]:
    """The in-place writes of ``fdef``'s own body (not of its nested functions) that change only
    objects it made itself: ``steps += 1`` of a local bound only to literals and new values,
    ``out[i] = ...`` of a local bound only to new values, ``out[i] += ...`` of a local bound only
    to new numpy arrays (an item of a new list may be the caller's array).  ids of the nodes."""
    bindings, others = _bindings(fdef)
    a = fdef.args
    params = {p.id for p in a.posonlyargs + a.args + a.kwonlyargs} | \
        {p.id for p in (a.vararg, a.kwarg) if p is not None}
    for n in gast.walk(fdef):
        if isinstance(n, gast.NamedExpr):
            others.add(n.target.id)
        elif isinstance(n, gast.comprehension):
            others |= {m.id for m in gast.walk(n.target) if isinstance(m, gast.Name)}
        elif isinstance(n, gast.ExceptHandler) and n.name is not None:
            others |= {m.id for m in gast.walk(n.name) if isinstance(m, gast.Name)}
    own = {k: v for k, v in bindings.items() if k not in params and k not in others}
    new_any = {k for k, vs in own.items() if all(isinstance(v, gast.Constant) or _fresh_value(fn, v) for v in vs)}
    new_arrays = {k for k, vs in own.items() if all(isinstance(v, gast.Call) and _fresh_call(fn, v) for v in vs)}
    exempt: Set[int] = set()
    for n in walk_no_defs(fdef):
        targets = [n.target] if isinstance(n, gast.AugAssign) else n.targets if isinstance(n, gast.Assign) else []
        for t in targets:
            if isinstance(n, gast.AugAssign) and isinstance(t, gast.Name) and t.id in new_any:
                exempt.add(id(n))
            elif isinstance(t, gast.Subscript) and isinstance(t.value, gast.Name) and \
                    t.value.id in (new_arrays if isinstance(n, gast.AugAssign) else new_any):
                exempt |= {id(n), id(t)} if isinstance(n, gast.AugAssign) else {id(t)}
    return exempt


def _registered_op(fn, f) -> bool:
    """Is the attribute call ``f`` (``norm.pdf``, read through a global object of a library, not a local)
    an op sct has a derivative rule for, without effects (scipy.stats' distributions' methods)?  Such an
    op computes a value from its arguments (red team B, dec 23: autograd's Bayesian neural net's
    ``nonlinearity=lambda x: norm.pdf(x, 0, 1)`` was refused between a generator's items as a function
    that may change objects)."""
    from .rules import EFFECTFUL_OPS
    from .runtime import registry
    chain = []
    node = f
    while isinstance(node, gast.Attribute):
        chain.append(node.attr)
        node = node.value
    if not isinstance(node, gast.Name) or node.id in fn.__code__.co_varnames or \
            node.id in fn.__code__.co_freevars or node.id in fn.__code__.co_cellvars:
        return False
    value = fn.__globals__.get(node.id)
    if value is None or (type(value).__module__ or "").split(".")[0] not in ("scipy", "numpy"):
        return False
    try:
        for attr in reversed(chain):
            value = getattr(value, attr)
    except Exception:
        return False
    try:
        return registry.lookup(value) is not None and id(value) not in EFFECTFUL_OPS
    except Exception:
        return False


def _pure(fn, depth: int = 0, self_attributes: bool = False) -> bool:
    """Does ``fn`` (and the functions it calls by global name) change nothing its caller can see
    in place?  Writes into objects it made itself (``_own_writes``) are allowed.
    ``self_attributes``: setting attributes of its first parameter to values not read from
    that parameter is allowed."""
    from .parse import function_ast
    try:
        fdef, _, _ = function_ast(fn)
    except Exception:
        return False
    return _pure_source(fn, fdef, depth, self_attributes)


def _pure_source(fn, fdef, depth: int = 0, self_attributes: bool = False,
                 pure_calls: frozenset = frozenset()) -> bool:
    """``_pure`` of the definition ``fdef`` of ``fn`` (an object with ``__globals__`` and
    ``__code__``'s names).  ``pure_calls``: the ids of call nodes of ``fdef`` the caller has shown
    change nothing (a generator method of a field whose class is known: sct/base_inits.py); their
    arguments are still read."""
    first = fdef.args.args[0].id if fdef.args.args else None
    own = _own_writes(fn, fdef)
    guarded = _guarded_calls(fn, fdef)
    for n in gast.walk(fdef):
        if id(n) in own or id(n) in pure_calls:
            continue
        if isinstance(n, (gast.Global, gast.Nonlocal)):
            return False
        if self_attributes and isinstance(n, gast.Assign) and len(n.targets) == 1 and \
                isinstance(n.targets[0], gast.Attribute) and isinstance(n.targets[0].value, gast.Name) and \
                n.targets[0].value.id == first and first not in loaded_names(n.value):
            n.targets[0].ctx = gast.Load()     # checked: do not count it below (a copy of the tree)
            continue
        if isinstance(n, (gast.Subscript, gast.Attribute)) and isinstance(n.ctx, (gast.Store, gast.Del)):
            return False
        if isinstance(n, gast.AugAssign):
            return False
        if isinstance(n, gast.Call):
            if any(k.arg == "out" for k in n.keywords):
                return False
            f = n.func
            if isinstance(f, gast.Attribute) and (f.attr in MUTATORS or f.attr in WRITING_FUNCTIONS or
                                                  f.attr == "at"):
                return False
            if isinstance(f, gast.Name) and f.id in ("setattr", "delattr", "exec", "eval"):
                return False
            if isinstance(f, gast.Name) and (f.id in fn.__code__.co_varnames or f.id in fn.__code__.co_freevars or
                                             f.id in fn.__code__.co_cellvars):
                return False        # a function value (a parameter, a local, a captured name): any effect
            if not isinstance(f, (gast.Name, gast.Attribute)):
                return False        # fs[0](v), getattr(o, "step")(v), make()(v): a function value
            if isinstance(f, gast.Attribute) and f.attr not in _READING_METHODS:
                root = f.value
                while isinstance(root, gast.Attribute):
                    root = root.value
                if not (isinstance(root, gast.Name) and root.id not in fn.__code__.co_varnames and
                        isinstance(fn.__globals__.get(root.id), types.ModuleType)):
                    if _registered_op(fn, f):
                        continue    # an op of sct's with a rule (scipy.stats' norm.pdf): computes a value
                    if id(n) in guarded and depth < 3 and all(g is fn or _pure(g, depth + 1)
                                                              for g in _methods_named(guarded[id(n)], f.attr)):
                        continue    # (``v.named_parameters(...)`` under ``isinstance(v, Module)``: each one
                        #             Module and its subclasses define changes nothing; red56c F2)
                    return False    # a method of an object (c.step(v)): it may set the object's attributes
                if fn.__globals__[root.id].__name__.split(".")[0] not in ("numpy", "math", "cmath"):
                    callee = _module_attribute(fn.__globals__[root.id], f)
                    if not isinstance(callee, types.FunctionType) or depth >= 3 or \
                            callee is not fn and not _pure(callee, depth + 1):
                        return False    # (a function of the user's module, mymod.helper(c, v))
            if isinstance(f, gast.Name):
                callee = fn.__globals__.get(f.id)
                if isinstance(callee, types.FunctionType) and callee is not fn and \
                        module_top(callee) not in ("numpy", "sct", "sct_generated"):
                    if depth >= 3 or not _pure(callee, depth + 1):
                        return False    # (too deep to read: unsure)
    return True


def _guarded_calls(fn, fdef) -> dict:
    """id of a method call ``v.m(...)`` in the body of ``if isinstance(v, K):`` (v a name the body does not
    bind, K a class of ``fn``'s globals) -> K: the object is one of K or of a subclass of K."""
    found: dict = {}
    for st in gast.walk(fdef):
        test = st.test if isinstance(st, gast.If) else None
        if not (isinstance(test, gast.Call) and isinstance(test.func, gast.Name) and test.func.id == "isinstance" and
                len(test.args) == 2 and not test.keywords and isinstance(test.args[0], gast.Name) and
                isinstance(test.args[1], gast.Name) and isinstance(fn.__globals__.get(test.args[1].id), type)):
            continue
        v, cls = test.args[0].id, fn.__globals__[test.args[1].id]
        if "isinstance" in fn.__code__.co_varnames or any(
                isinstance(n, gast.Name) and n.id in (v, test.args[1].id) and not isinstance(n.ctx, gast.Load)
                for b in st.body for n in gast.walk(b)):
            continue
        for b in st.body:
            for n in gast.walk(b):
                if isinstance(n, gast.Call) and isinstance(n.func, gast.Attribute) and \
                        isinstance(n.func.value, gast.Name) and n.func.value.id == v:
                    found[id(n)] = cls
    return found


def _methods_named(cls, name: str) -> list:
    """The plain functions ``name`` of ``cls`` and of each of its subclasses (what ``v.name`` of an object of
    one runs); [None] where one is not a plain function (read as changing something)."""
    found, todo, seen = [], [cls], set()
    while todo:
        k = todo.pop()
        if k in seen:
            continue
        seen.add(k)
        g = getattr(k, name, None)
        if not isinstance(g, types.FunctionType) or any(name in c.__dict__ and not isinstance(
                c.__dict__[name], types.FunctionType) for c in k.__mro__) or "__getattribute__" in k.__dict__ or \
                name in getattr(k, "__slots__", ()):
            return [None]
        if g not in found:
            found.append(g)
        todo.extend(k.__subclasses__())
    return found


def _module_attribute(module, f):
    """The value ``a.b.c`` of the attribute chain ``f`` rooted at ``module`` (None where missing)."""
    chain = []
    while isinstance(f, gast.Attribute):
        chain.append(f.attr)
        f = f.value
    value = module
    for name in reversed(chain):
        value = getattr(value, name, None)
    return value


# --- may a function keep what it is given (beyond what it returns)? ------------------------------

_KEEPS: Dict[int, Tuple[object, object, bool]] = {}
_BUILTINS_KEEPING_NOTHING = IMMUTABLE_BUILTINS | {"max", "min", "pow", "divmod", "reversed", "sorted", "list",
                                                  "tuple", "iter", "next", "isinstance"}


def keeps_arguments(fn, depth: int = 0) -> bool:
    """May the plain function ``fn`` keep an argument (or what it reaches) somewhere that outlives
    the call other than its result: a global, an attribute, an argument's item, a closure, a
    generator?  False only where its source shows none: no global/nonlocal/yield, no nested
    function or lambda, item writes only into lists and arrays it made itself, list methods only
    on those, and calls only of numpy/math, of builtins that keep nothing, of reading methods and
    of user functions that keep nothing.  (What it returns is the caller's concern.)"""
    if not isinstance(fn, types.FunctionType) or depth > 3:
        return True
    return _by_code(_KEEPS, fn, None, lambda: _keeps(fn, depth))


def _by_code(cache: Dict, fn, extra, compute) -> bool:
    """``compute()`` for ``fn``'s code (and ``extra``), kept in ``cache``; True, the safe answer,
    where it fails and while it runs (a recursive call meets it).  The answer read the functions
    that ``fn`` calls by their global names (``_note_callee``): kept with it and checked on reuse, so
    a helper redefined since (a notebook cell run again) is read again (was: the old helper's
    answer, "changes nothing", kept for the caller's code; its in-place write went unseen)."""
    code = fn.__code__
    hit = cache.get(id(code))
    if hit is not None and hit[0] is code and hit[1] == extra and _callees_hold(hit[3]):
        for deps in _recording():
            deps.extend(hit[3])
        return hit[2]
    cache[id(code)] = (code, extra, True, ())
    stack = _recording()
    mine: list = []
    stack.append(mine)
    try:
        result = compute()
    except Exception:
        result = True
    finally:
        stack.pop()
    if len(cache) > 512:
        cache.clear()
    cache[id(code)] = (code, extra, result, tuple(mine))
    for deps in stack:
        deps.extend(mine)
    return result


def local_def(fdef, name: str):
    """The def (or lambda, made a def by normalisation) nested in ``fdef`` that the name ``name`` is
    bound to and nothing else binds (None where there is none or more): array_returns.nested_def, which
    fz53 had written out again there (this module imports that one)."""
    return _nested_def(fdef, name)


def _nested_scope(d, fn, enclosing_names: Set[str]):
    """What the source readers above take for a function, for the def ``d`` nested in ``fn``: ``fn``'s
    globals, and as its own names its parameters and locals and every name of ``fn``'s scope (a
    function value called through one is unknown)."""
    a = d.args
    own = {p.id for p in a.posonlyargs + a.args + a.kwonlyargs} | \
        {p.id for p in (a.vararg, a.kwarg) if p is not None} | \
        {n.id for n in gast.walk(d) if isinstance(n, gast.Name) and isinstance(n.ctx, (gast.Store, gast.Del))}
    code = types.SimpleNamespace(co_varnames=tuple(own | set(enclosing_names)), co_freevars=(), co_cellvars=())
    return types.SimpleNamespace(__globals__=fn.__globals__, __code__=code)


def nested_keeps_arguments(d, fn, enclosing_names: Set[str]) -> bool:
    """``keeps_arguments`` of the def ``d`` nested in the function ``fn`` (a local lambda, made a def
    by normalisation: ``f = lambda v: v * 2``), read from its source as a module function's is, in
    ``fn``'s globals; a name of ``fn``'s scope called in it is unknown (may keep)."""
    if not isinstance(fn, types.FunctionType):
        return True
    try:
        return _keeps_source(_nested_scope(d, fn, enclosing_names), d, 0)
    except Exception:
        return True


def nested_pure(d, fn, enclosing_names: Set[str]) -> bool:
    """``_pure`` of the def ``d`` nested in the function ``fn``: it changes nothing in place (writes
    only into what it made), read from its source."""
    if not isinstance(fn, types.FunctionType):
        return False
    try:
        return _pure_source(_nested_scope(d, fn, enclosing_names), d, 0)
    except Exception:
        return False


_READING = threading.local()        # .stack: the callees each _by_code now computing has read
_ABSENT = object()


def _recording() -> list:
    stack = getattr(_READING, "stack", None)
    if stack is None:
        stack = _READING.stack = []
    return stack


def _note_callee(namespace: dict, name: str) -> None:
    """A call of ``name`` from ``namespace`` (a module's globals) read: what it holds now."""
    stack = getattr(_READING, "stack", None)
    if stack:
        value = namespace.get(name, _ABSENT)
        read = (namespace, name, value, getattr(value, "__code__", None))
        for deps in stack:
            deps.append(read)


def begin_callee_reads() -> list:
    """Start recording the callees the analyses read (one compilation; nested ones record their own,
    which reach this one too): the list they go into, for :func:`end_callee_reads`."""
    mine: list = []
    _recording().append(mine)
    return mine


def end_callee_reads(mine: list) -> None:
    stack = _recording()
    if stack and stack[-1] is mine:
        stack.pop()
    elif mine in stack:
        stack.remove(mine)


def callee_reads() -> list:
    """``(namespace, name, value, its code)`` the analyses of this compilation read (ABSENT: no value)."""
    stack = _recording()
    return list(stack[-1]) if stack else []


ABSENT = _ABSENT


def _callees_hold(deps) -> bool:
    for namespace, name, value, code in deps:
        now = namespace.get(name, _ABSENT)
        if now is not value or getattr(now, "__code__", None) is not code:
            return False
    return True


def _keeps(fn, depth: int) -> bool:
    from .parse import function_ast
    fdef, _, _ = function_ast(fn)
    return _keeps_source(fn, fdef, depth)


def _keeps_source(fn, fdef, depth: int) -> bool:
    """``_keeps`` of the definition ``fdef`` of ``fn`` (an object with ``__globals__`` and
    ``__code__.co_varnames``)."""
    own = _own_writes(fn, fdef)
    bindings, others = _bindings(fdef)
    a = fdef.args
    params = {p.id for p in a.posonlyargs + a.args + a.kwonlyargs} | \
        {p.id for p in (a.vararg, a.kwarg) if p is not None}
    new_locals = {k for k, vs in bindings.items() if k not in params and k not in others and
                  all(isinstance(v, gast.Constant) or _fresh_value(fn, v) for v in vs)}
    for n in gast.walk(fdef):
        if n is fdef:
            continue
        if isinstance(n, (gast.Global, gast.Nonlocal, gast.Yield, gast.YieldFrom, gast.Await,
                          gast.FunctionDef, gast.AsyncFunctionDef, gast.Lambda, gast.ClassDef)):
            return True
        if isinstance(n, (gast.Attribute, gast.Subscript)) and isinstance(n.ctx, (gast.Store, gast.Del)):
            if not (isinstance(n, gast.Subscript) and (id(n) in own or isinstance(n.value, gast.Name) and
                                                       n.value.id in new_locals)):
                return True
        if isinstance(n, gast.Call) and _call_keeps(fn, n, new_locals, depth):
            return True
    return False


def _call_keeps(fn, node, new_locals, depth: int) -> bool:
    f = node.func
    if isinstance(f, gast.Attribute):
        root = f.value
        while isinstance(root, gast.Attribute):
            root = root.value
        if isinstance(root, gast.Name) and isinstance(fn.__globals__.get(root.id), types.ModuleType) and \
                root.id not in fn.__code__.co_varnames:
            module = fn.__globals__[root.id].__name__
            return not module.split(".")[0] in ("numpy", "math", "cmath")
        if f.attr in MUTATORS:
            return not (isinstance(f.value, gast.Name) and f.value.id in new_locals)
        return f.attr not in _READING_METHODS
    if new_results_callee(fn, f) is not None:
        return False        # (one of sct's functions declared to return new arrays: it keeps none of its arguments,
        #                     tests/test_dl_results_fresh_s54.py; ``mse(fullyconnect(x, p["W"], p["b"]), t)``, red55u F1)
    if isinstance(f, gast.Name):
        if f.id in fn.__code__.co_varnames:
            return True                               # a parameter or local called
        _note_callee(fn.__globals__, f.id)
        value = fn.__globals__.get(f.id, getattr(__builtins__, f.id, None) if not isinstance(__builtins__, dict)
                                   else __builtins__.get(f.id))
        if isinstance(value, types.BuiltinFunctionType) or isinstance(value, type):
            return f.id not in _BUILTINS_KEEPING_NOTHING
        if isinstance(value, np.ufunc) or module_top(value) == "numpy":
            return False
        if isinstance(value, types.FunctionType):
            return value is not fn and keeps_arguments(value, depth + 1)
        return True
    return True


def _generated_dataclass_init(cls) -> bool:
    """Is ``cls.__init__`` the one ``@dataclass`` wrote (it only stores its arguments)?"""
    import dataclasses
    init = cls.__dict__.get("__init__") if dataclasses.is_dataclass(cls) else None
    if init is None:
        for base in cls.__mro__[1:]:
            if "__init__" in base.__dict__:
                init = base.__dict__["__init__"] if dataclasses.is_dataclass(base) else None
                break
    code = getattr(init, "__code__", None)
    return code is not None and code.co_filename.startswith("<") and \
        getattr(cls, "__dataclass_params__", None) is not None


# --- may a call of a user's function be replayed instead of run again? ----------------------------

# methods of arrays, lists and dicts that read their receiver only
_READING_METHODS = {
    "sum", "mean", "max", "min", "prod", "std", "var", "any", "all", "argmax", "argmin", "cumsum",
    "cumprod", "reshape", "ravel", "flatten", "transpose", "squeeze", "swapaxes", "copy", "astype",
    "item", "tolist", "dot", "conj", "conjugate", "round", "clip", "nonzero", "trace", "diagonal",
    "repeat", "take", "searchsorted", "ptp", "keys", "values", "items", "get", "count", "index",
    "format", "join", "split", "strip", "lower", "upper", "startswith", "endswith", "replace",
    "__getitem__", "__len__", "__contains__", "view", "tobytes", "real", "imag",
}
_CHANGES: Dict[int, Tuple[object, int, bool]] = {}


def changes_arguments(fn, depth: int = 0) -> bool:
    """May calling ``fn`` (a user's function, bound method, class or callable object) change an
    argument (or its receiver, or an object reachable from them) in place?  True when unsure.
    Changes of the module's own globals are effects, not changes of arguments."""
    if isinstance(fn, types.MethodType):
        return _changes_code(fn.__func__, 0, depth)
    if isinstance(fn, type):
        if fn.__new__ is not object.__new__:
            return True
        init = getattr(fn, "__init__", None)
        if _generated_dataclass_init(fn):
            post = getattr(fn, "__post_init__", None)
            return post is not None and _changes_code(post, 1, depth)
        if init is object.__init__:
            return False
        return _changes_code(init, 1, depth)         # self is the new object, not an argument
    if isinstance(fn, types.FunctionType):
        return _changes_code(fn, 0, depth)
    call = getattr(type(fn), "__call__", None)
    if isinstance(call, types.FunctionType) and hasattr(fn, "__dict__"):
        return _changes_code(call, 0, depth)
    return True


def _changes_code(fn, skip: int, depth: int) -> bool:
    if not isinstance(fn, types.FunctionType) or depth > 3:
        return True
    return _by_code(_CHANGES, fn, skip, lambda: _changes(fn, skip))


def method_changes_arguments(fn, cls, fields) -> bool:
    """``changes_arguments`` of the method ``fn`` (a plain function) called on an instance of the class ``cls``
    whose own attributes are named ``fields``: its calls ``self.m(...)`` of a method of ``cls`` (a plain function,
    no attribute of the instance shadowing it) read in turn, as that method (was: any such call unsure, so
    ``def block(self, h): return self.scale(np.tanh(self.lin(h)), k=0.3)`` was taken for one changing self and
    second order through ``h = self.block(h)`` refused, red56d F2)."""
    if not isinstance(fn, types.FunctionType):
        return True
    try:                # (not kept by fn's code: the answer reads the class's methods as they are now)
        return _changes(fn, 0, (cls, fields))
    except Exception:
        return True


def _changes(fn, skip: int, receiver=None) -> bool:
    """``changes_arguments`` for the function ``fn`` read from its source (``skip``: leading
    parameters that are not the caller's, e.g. the new object of ``__init__``; ``receiver``: (class,
    attribute names) of the instance its first parameter is, method_changes_arguments)."""
    from .parse import function_ast
    fdef, _, _ = function_ast(fn)
    a = fdef.args
    params = [p.id for p in a.posonlyargs + a.args][skip:] + [p.id for p in a.kwonlyargs] + \
        [p.id for p in (a.vararg, a.kwarg) if p is not None]
    flow = _ArgumentFlow(fdef, params)
    own = None
    if receiver is not None and params and params[0] == ([p.id for p in a.posonlyargs + a.args] or [None])[0] and \
            not any(isinstance(n, gast.Name) and n.id == params[0] and isinstance(n.ctx, (gast.Store, gast.Del))
                    for n in walk_nodes(fdef)):
        own = params[0]             # (self, never bound again)
    for n in walk_nodes(fdef):
        if isinstance(n, (gast.Assign, gast.AugAssign, gast.AnnAssign, gast.Delete)):
            if _store_changes(n, flow):
                return True
        if isinstance(n, gast.Call) and own is not None and _own_method_call(n, own, receiver) is not None:
            if _own_method_call(n, own, receiver):
                return True
            continue
        if isinstance(n, gast.Call) and _call_changes(fn, n, flow) and not _pure_made_closure(fn, fdef, n):
            return True
    return False


def _own_method_call(n: gast.Call, own: str, receiver):
    """For ``self.m(...)`` (``own``: self's name) of a method ``m`` of ``receiver``'s class that no attribute of
    the instance shadows: may it change an argument (self, or one given)?  None for another call."""
    import inspect
    func = n.func
    if not (isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name) and func.value.id == own) or \
            any(k.arg == "out" or k.arg is None for k in n.keywords) or \
            any(isinstance(a, gast.Starred) for a in n.args):
        return None
    cls, fields = receiver
    if func.attr in fields or any("__getattr" in vars(k) for k in cls.__mro__[:-1]):
        return None
    try:
        method = inspect.getattr_static(cls, func.attr)
    except AttributeError:
        return None
    if not isinstance(method, types.FunctionType) or module_top(method) in ("numpy", "sct", "sct_generated"):
        return None
    if id(method) in _FOLLOWING or len(_FOLLOWING) >= 4:
        return True
    _FOLLOWING.add(id(method))
    try:
        return method_changes_arguments(method, cls, fields)
    finally:
        _FOLLOWING.discard(id(method))


def _pure_made_closure(fn, fdef, n: gast.Call) -> bool:
    """Is ``n`` a call ``g(h)`` of a local name bound once, to what a user's function returns
    (``g = make(self.s)``), where every ``return`` of that function returns a def nested in it whose
    source shows it changes nothing in place?  (was: a function value, unsure, so a method applying
    a helper-made closure to a local was taken for one changing self: a second derivative through
    ``h = make(self.s)(h)`` written in two lines was refused, fuzz51 F2)"""
    from .ir import store_counts
    from .parse import function_ast
    if not isinstance(n.func, gast.Name) or store_counts(fdef).get(n.func.id) != 1:
        return False
    made = [a.value for a in walk_no_defs(fdef) if isinstance(a, gast.Assign) and len(a.targets) == 1 and
            isinstance(a.targets[0], gast.Name) and a.targets[0].id == n.func.id]
    if len(made) != 1 or not isinstance(made[0], gast.Call) or not isinstance(made[0].func, gast.Name):
        return False
    _note_callee(fn.__globals__, made[0].func.id)
    factory = fn.__globals__.get(made[0].func.id)
    if not isinstance(factory, types.FunctionType) or \
            module_top(factory) in ("numpy", "sct", "sct_generated"):
        return False
    try:
        inner, _, _ = function_ast(factory)
    except Exception:
        return False
    returns = [r for r in walk_no_defs(inner) if isinstance(r, gast.Return)]
    enclosing = {x.id for x in gast.walk(inner) if isinstance(x, gast.Name)}
    for r in returns:
        d = local_def(inner, r.value.id) if isinstance(r.value, gast.Name) else None
        if d is None or any(isinstance(x, (gast.Global, gast.Nonlocal)) for x in gast.walk(d)) or \
                not nested_pure(d, factory, enclosing):
            return False
    return bool(returns)


def _root(node):
    """The name an attribute or item chain starts from; through ``type(o)`` to ``o``: ``type(self).n += 1``
    changes the class every instance reads ``n`` from, as ``self.__class__.n += 1`` does (was not seen
    as a change, so a second derivative recomputing ``k.bump()`` read the count bumped twice)."""
    while True:
        while isinstance(node, (gast.Attribute, gast.Subscript, gast.Starred)):
            node = node.value
        if isinstance(node, gast.Call) and isinstance(node.func, gast.Name) and node.func.id == "type" and \
                len(node.args) == 1 and not node.keywords:
            node = node.args[0]
            continue
        return node.id if isinstance(node, gast.Name) else None


def _depth(node) -> int:
    d = 0
    while isinstance(node, (gast.Attribute, gast.Subscript, gast.Starred)):
        node = node.value
        d += 1
    return d


def _assignment(n):
    """``(targets, value)`` of an assignment, loop, comprehension or ``with``."""
    if isinstance(n, gast.Assign):
        return n.targets, n.value
    if isinstance(n, gast.AnnAssign):
        return [n.target], n.value
    if isinstance(n, (gast.For, gast.comprehension)):
        return [n.target], n.iter
    targets = [i.optional_vars for i in n.items if i.optional_vars is not None]
    return targets, gast.Tuple(elts=[i.context_expr for i in n.items], ctx=gast.Load())


class _ArgumentFlow:
    """The local names of a function that may be (views of, containers holding) its arguments
    (``derived``), and the local objects given an argument as an attribute or item
    (``holders``), to a fixed point over its assignments."""

    def __init__(self, fdef, params: List[str]):
        self.derived: Set[str] = set(params)
        self.holders: Set[str] = set()
        assigns = [n for n in walk_nodes(fdef) if isinstance(n, (gast.Assign, gast.AnnAssign, gast.For,
                                                                gast.With, gast.comprehension))]
        changed = True
        while changed:
            changed = False
            for n in assigns:
                targets, value = _assignment(n)
                if self.shares(value) and self._bind(targets):
                    changed = True

    def _bind(self, targets) -> bool:
        """Mark what the targets of a sharing value bind or set; whether anything was new."""
        changed = False
        for t in targets:
            for name in _bound_names(t):
                if name not in self.derived:
                    self.derived.add(name)
                    changed = True
            if isinstance(t, (gast.Attribute, gast.Subscript)):
                name = _root(t)
                if name is not None and name not in self.derived and name not in self.holders:
                    self.holders.add(name)
                    changed = True
        return changed

    def shares(self, value) -> bool:
        """Can ``value`` be (a view of, a container holding) an argument?"""
        if value is None or isinstance(value, (gast.Constant, gast.BinOp, gast.UnaryOp, gast.Compare,
                                               gast.JoinedStr, gast.Lambda)):
            return False
        if isinstance(value, gast.Call):
            func = value.func
            dotted = _dotted(func)
            if dotted.split(".")[0] in ("np", "numpy", "math") and \
                    dotted.rsplit(".", 1)[-1] not in VIEW_FUNCTIONS:
                return False
            if isinstance(func, gast.Attribute) and func.attr in ("copy", "astype", "tolist", "sum",
                                                                  "mean", "item", "dot"):
                return False
        return any(n in self.derived or n in self.holders for n in loaded_names(value))

    def derived_node(self, node, levels: int = 1) -> bool:
        """Does changing ``node`` (``levels`` below it) change an argument?  Setting an attribute
        of an object that only holds one does not; changing what it holds does."""
        name = _root(node)
        return name in self.derived or (name in self.holders and _depth(node) + levels >= 2)


def _store_changes(n, flow: _ArgumentFlow) -> bool:
    """Does the assignment, augmented assignment or ``del`` ``n`` change an argument?"""
    targets = n.targets if isinstance(n, (gast.Assign, gast.Delete)) else [n.target]
    for t in targets:
        for x in gast.walk(t):
            if isinstance(x, (gast.Attribute, gast.Subscript)) and \
                    isinstance(x.ctx, (gast.Store, gast.Del)) and flow.derived_node(x, 0):
                return True
        if isinstance(n, gast.AugAssign) and (isinstance(t, gast.Name) and t.id in flow.derived or
                                              not isinstance(t, gast.Name) and flow.derived_node(t)):
            return True            # t += v changes an array or list in place
    return False


def _call_changes(fn, n: gast.Call, flow: _ArgumentFlow) -> bool:
    """May the call ``n`` in ``fn`` change an argument of ``fn``?"""
    func = n.func
    args = list(n.args) + [k.value for k in n.keywords]
    touches = any(flow.shares(x) or (isinstance(x, gast.Name) and x.id in flow.derived) for x in args)
    if any(k.arg == "out" for k in n.keywords):
        return True
    if isinstance(func, gast.Name) and func.id in ("setattr", "delattr", "exec", "eval") and touches:
        return True
    if isinstance(func, gast.Attribute):
        verdict = _method_call_changes(func, flow, touches)
        if verdict is not None:
            return verdict
    if not touches:
        return False
    if isinstance(func, gast.Name):
        return _function_call_changes(fn, func)
    if isinstance(func, gast.Attribute) and _super_call(func.value):
        # ``super().act(z)``: the method of the class after the one ``fn`` is defined in (its __class__
        # cell), read in turn (was: unsure, so a method calling its base's was taken for one changing self)
        method = _super_method(fn, func.attr)
        return method is None or _followed_changes(method)
    if isinstance(func, gast.Attribute) and not flow.derived_node(func.value):
        base = _global_or_free(fn, _root(func.value)) if _root(func.value) else None
        if isinstance(base, types.ModuleType) and \
                (base.__name__.split(".")[0] in ("numpy", "math", "cmath", "sct")):
            return False
        if isinstance(func.value, gast.Name) and isinstance(base, _RANDOM_GENERATORS):
            # rng.normal(size=n) of a generator the function reads from its module or a closure: a
            # draw, which changes the generator (an effect: the caller replays the call), not n (was:
            # 'may change n', so the call ran again where code is recomputed, drawing twice).
            # shuffle and out= are taken above.
            return False
        return True
    return False


def _super_call(node) -> bool:
    return isinstance(node, gast.Call) and isinstance(node.func, gast.Name) and node.func.id == "super" and \
        not node.args and not node.keywords


def _super_method(fn, name: str):
    """The plain function ``super().name`` runs in ``fn``, a method of a class (its ``__class__`` cell);
    None where it is not one."""
    cls = _global_or_free(fn, "__class__") if "__class__" in getattr(fn.__code__, "co_freevars", ()) else None
    if not isinstance(cls, type):
        return None
    for klass in cls.__mro__[1:]:
        if name in vars(klass):
            found = vars(klass)[name]
            return found if isinstance(found, types.FunctionType) else None
    return None


_RANDOM_GENERATORS = (__import__("numpy").random.Generator, __import__("numpy").random.RandomState,
                      __import__("random").Random)


def _global_or_free(fn, name: str):
    """The value ``name`` has in ``fn``: a closure's cell or the module's global (None: neither)."""
    code = getattr(fn, "__code__", None)
    if code is not None and name in code.co_freevars and fn.__closure__:
        try:
            return fn.__closure__[code.co_freevars.index(name)].cell_contents
        except ValueError:
            return None
    return fn.__globals__.get(name)


def _method_call_changes(func: gast.Attribute, flow: _ArgumentFlow, touches: bool):
    """``obj.method(...)``: True or False where the method tells, None to look at the call further."""
    if func.attr in MUTATORS or func.attr in WRITING_FUNCTIONS or func.attr in ("at", "shuffle"):
        return flow.derived_node(func.value) or (touches and func.attr not in MUTATORS)
    if flow.derived_node(func.value) and func.attr not in _READING_METHODS:
        return True         # a method that may change (a part of) an argument: see _function_call_changes
    dotted = _dotted(func)
    if dotted.split(".")[0] in ("np", "numpy", "math", "cmath"):
        return False
    return None


_FOLLOWING: Set[int] = set()       # the callees ``_function_call_changes`` is reading now


def _followed_changes(callee) -> bool:
    """``changes_arguments(callee)``, read at most four callees deep and never into one being read
    (there: unsure, True)."""
    if id(callee) in _FOLLOWING or len(_FOLLOWING) >= 4:
        return True
    _FOLLOWING.add(id(callee))
    try:
        return changes_arguments(callee)
    finally:
        _FOLLOWING.discard(id(callee))


def _function_call_changes(fn, func: gast.Name) -> bool:
    """``f(...)`` given (a part of) an argument: may ``f`` change it?"""
    if func.id in IMMUTABLE_BUILTINS or func.id in COPY_BUILTINS or func.id in VIEW_FUNCTIONS:
        return False
    _note_callee(fn.__globals__, func.id)
    callee = fn.__globals__.get(func.id, getattr(__import__("builtins"), func.id, None))
    if isinstance(callee, (types.FunctionType, type)) and \
            module_top(callee) not in ("numpy", "sct", "sct_generated"):
        # A user's function given (a part of) an argument: it changes it where it changes its own
        # arguments, read from its source in turn (a few levels; a function met again while it is
        # read, or a class, is unsure: True).  Was always True, so a helper calling a helper with
        # its argument (def noise(n): return _draw(n) * 0.5) was run again where second-order code
        # recomputes, not replayed: its random draws happened twice.
        # (a class: its __init__, whose self is the new object, read as changes_arguments reads it; was
        # always True, so a method returning ``Fluent(self.w, self.k * k)`` was taken for one changing self)
        return _followed_changes(callee)
    if getattr(callee, "__module__", "") and str(getattr(callee, "__module__", "")).startswith(
            ("numpy", "sct", "math")):
        return False
    return True


def _bound_names(target) -> List[str]:
    """The names an assignment target binds (not those of an attribute or item it sets)."""
    if isinstance(target, gast.Name):
        return [target.id]
    if isinstance(target, gast.Starred):
        return _bound_names(target.value)
    if isinstance(target, (gast.Tuple, gast.List)):
        return [n for e in target.elts for n in _bound_names(e)]
    return []

