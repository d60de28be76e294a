"""Helpers of the same file read in place: where the function meets data formats, and those
that take gradients.

MATLAB's custom training loops pass formatted dlarrays to the user's model function
(``Y = model(parameters, X)`` in ``modelLoss``).  sct follows formats through one function at a
time (``sct/formats.py``), so a formatted argument of a helper was refused.  Where the function
``dlfeval`` compiles meets formats (a formatted argument, ``dlarray(x, fmt)``, ``DataFormat=``),
each call ``r = helper(...)`` of a plain function defined in the same file (same module
globals, no closure, not a generator, no ``global``/``nonlocal``, no nested function or class,
named parameters with literal defaults) is replaced by the helper's own statements: the
arguments bound to fresh names in order, the body normalized with the caller's namer, its one
return assigned to ``r``.  That is what the call computes (Python binds parameters to the
arguments' objects, the body runs, the value returns), so values and every derivative are the
caller's own, formats included; a ``dlgradient`` in the helper then sees the caller's code, as
MATLAB's trace does.  Statements keep the helper's lines (the same file), so errors name them.

A helper of the file that calls ``dlgradient`` (or dljacobian, dldivergence, dllaplacian) is read
in place wherever it is called, for the same reason: its sites then differentiate through the
caller's code (``h(x, x ** 2)``'s ``dlgradient(sum(x * z), x)`` is 3x**2, MATLAB's; compiled on its
own it held z constant).  Not where that would put a gradient that may be differentiated again
inside a loop (the call is in a loop, or the helper loops): there it stays a call, with its own
pair (``sct/helper_sites.py`` refuses what that cannot follow).

The helper's global name stays guarded (``Resolver.resolve_name``): redefining it recompiles.
Anything else (another module's helper, a method, a recursive call, a name the caller binds) is
left as a call.
"""
from __future__ import annotations

import copy
import dis
import inspect
import types
from typing import Dict, List, Optional, Set, Tuple

import gast

from .runtime.origins import module_top
from .base_inits import bind_parameters
from .format_inference import has_format, tree_of_kind
from .ir import local_names, pattern_captures, shared_walks, walk_nodes
from .logged_values import logs_only
from .parse import copied_user_def

MAX_DEPTH = 4
_NO_DEFAULT = object()          # a keyword-only parameter without a default (bind_parameters refuses it)
_UNSUPPORTED = (gast.Global, gast.Nonlocal, gast.Yield, gast.YieldFrom, gast.Await, gast.FunctionDef,
                gast.AsyncFunctionDef, gast.Lambda, gast.ClassDef, gast.Try)


def uses_formats(fdef, kinds) -> bool:
    """Does the function meet data formats: a formatted argument, ``dlarray(x, fmt)``,
    ``DataFormat=`` (read from the tree and the arguments' kinds, before names are resolved)?"""
    if any(has_format(tree_of_kind(k)) for k in kinds or ()):
        return True
    for node in walk_nodes(fdef):
        if isinstance(node, gast.Call):
            if any(k.arg == "DataFormat" for k in node.keywords):
                return True
            f = node.func
            name = f.id if isinstance(f, gast.Name) else f.attr if isinstance(f, gast.Attribute) else None
            if name == "dlarray" and (len(node.args) > 1 or node.keywords):
                return True
    return False


def inline_helpers(fn, fdef: gast.FunctionDef, filename: str, namer, rt_name: str, kinds,
                   method_guards: Optional[List] = None, final: bool = False) -> Set[str]:
    """Inline the same-file helpers ``fdef`` (normalized) calls, where it meets formats, and the
    methods that set attributes of their object (below); the names of the helpers inlined (to be
    guarded; each method read in place is added to ``method_guards`` as ``(class, name)``).  ``final``:
    dlfeval's own function, whose results nothing differentiates."""
    if not isinstance(fn, types.FunctionType) or filename.startswith("<sct-generated") and not copied_user_def(fn):
        return set()             # (generated code calls its sweeps by name: they stay calls)
    with shared_walks(fdef):            # (both read the tree: one walk)
        formats = uses_formats(fdef, kinds)
        inliner = _Inliner(fn, fdef, filename, namer, rt_name, formats, kinds, final=final)
    original = copy.deepcopy(fdef.body) if inliner.classes else None
    body = inliner.block(fdef.body, (fn.__code__,), 0)
    if original is not None:
        # a method read in place may set an attribute the reading of another relied on: ``net.reset()``
        # setting ``self.bn = BN2()`` before ``net.bn(x)``, read by the field's kind as BN1's __call__
        # (or an instance's own ``st.add`` hiding the class's method): read again, with every
        # attribute the first reading sets taken as set by the function itself
        stored = _stored_attributes(body)
        if (stored - inliner.stored_attributes) & inliner.looked_up:
            fdef.body = original
            inliner = _Inliner(fn, fdef, filename, namer, rt_name, formats, kinds, stored, final=final)
            body = inliner.block(fdef.body, (fn.__code__,), 0)
    fdef.body = body
    if method_guards is not None:
        method_guards.extend(inliner.methods)
        # (a class only consulted, its method left as a call, is not guarded here: its call site is, and
        # guarding the class makes the caller fold its callees' checks, tests/test_issue7_calltree_static.py;
        # an entry compiled while the class's code hid the method may then refuse, not answer wrongly)
    return inliner.inlined


# --- methods that set attributes of their object ---------------------------------------------------
# ``h = st.add(h)`` where ``add`` does ``self.total = self.total + np.sum(u)`` and ``st`` is an object of
# a class known here (an argument's kind says so, or the function builds it once with ``Cls(...)``):
# compiled on its own, the method's write into its caller's object is refused (sct follows values, not
# changes of objects); read in place, ``self`` is ``st`` and the write is the caller's own
# ``st.total = ...``, which sct follows (and refuses where it cannot).  Only plain functions found on
# the class (not an instance attribute, property, staticmethod, or a class with its own attribute
# access), whose body sets an attribute of ``self`` or changes one in place (``self.hist.append``).

def _class_of_kind(kind):
    if isinstance(kind, tuple) and len(kind) > 2 and kind[0] == "obj" and isinstance(kind[1], type):
        fields = kind[2] if isinstance(kind[2], tuple) else ()
        return kind[1], {f[0] for f in fields if isinstance(f, tuple) and f}
    return None


def _plain_class(cls) -> bool:
    """A user's class whose methods may be read in place: plain attribute access, none of its bases
    sct's or numpy's (an ``sct.Layer`` subclass runs through sct's layer protocol, a custom layer's
    own ``backward`` used instead of the derived gradient: sct/compiler.py ``use_custom_backwards``)."""
    return isinstance(cls, type) and type(cls) is type and \
        cls.__getattribute__ is object.__getattribute__ and cls.__setattr__ is object.__setattr__ and \
        not hasattr(cls, "__getattr__") and \
        all(module_top(k) not in ("sct", "numpy", "builtins")
            for k in cls.__mro__ if k is not object)


def _class_method(cls, name: str):
    """The plain function ``name`` of ``cls`` (its MRO's dicts), else None."""
    for klass in cls.__mro__:
        if name in vars(klass):
            m = vars(klass)[name]
            return m if type(m) is types.FunctionType else None
    return None


def _may_set_on_instance(cls, name: str) -> bool:
    """Could the class's own code give an instance an attribute ``name`` (which would hide the
    method): a store of ``.name`` anywhere in the functions of its classes, or setattr, ``__dict__``
    or ``__setattr__`` used there?"""
    import dis

    def sets(code) -> bool:
        if {"setattr", "__dict__", "__setattr__", "vars"} & set(code.co_names):
            return True
        if any(i.opname in ("STORE_ATTR", "DELETE_ATTR") and i.argval == name for i in dis.get_instructions(code)):
            return True
        return any(isinstance(c, types.CodeType) and sets(c) for c in code.co_consts)
    for klass in cls.__mro__:
        if klass is object:
            continue
        for value in vars(klass).values():
            if isinstance(value, (staticmethod, classmethod)):
                value = value.__func__
            parts = [value.fget, value.fset, value.fdel] if isinstance(value, property) else [value]
            for part in parts:
                code = getattr(part, "__code__", None)
                if isinstance(code, types.CodeType) and sets(code):
                    return True
    return False


def class_guards(cls) -> List:
    """``(object, attribute)`` pairs to guard where a method of ``cls`` is read in place: what the
    class's objects find for each name its classes define (and its construction and attribute
    access), and the code of each of those functions.  ``_may_set_on_instance`` read that code
    (replacing ``__init__`` with one setting ``self.add`` hides the method ``add``), and
    ``_plain_class`` the attribute access."""
    names = {"__init__", "__new__", "__setattr__", "__getattribute__", "__getattr__"}
    for klass in cls.__mro__:
        if klass is not object:      # (its functions; not its data, which methods may change: Cls.count += 1)
            names |= {n for n, v in vars(klass).items()
                      if isinstance(v, (types.FunctionType, property, staticmethod, classmethod))}
    out: List = []
    for name in sorted(names):
        raw = inspect.getattr_static(cls, name, None)
        if isinstance(raw, classmethod):          # (a new bound method each time: its function's code)
            out.append((raw.__func__, "__code__"))
            continue
        out.append((cls, name))
        value = raw.__func__ if isinstance(raw, staticmethod) else raw
        parts = [value.fget, value.fset, value.fdel] if isinstance(value, property) else [value]
        out.extend((p, "__code__") for p in parts if isinstance(p, types.FunctionType))
    return out


def _forwarded(fn) -> Optional[str]:
    """The name of the method a ``__call__`` only hands its arguments to, PyTorch's ``nn.Module``:
    ``def __call__(self, *args, **kwargs): return self.forward(*args, **kwargs)`` (``*args`` or
    ``**kwargs`` alone too), else None.  ``obj(x)`` is then ``obj.forward(x)``, which is read in place
    (was: the ``*args`` of ``__call__`` kept the call a call, and forward's ``self.h = ...`` refused)."""
    from .parse import function_ast
    if not isinstance(fn, types.FunctionType) or fn.__code__.co_freevars:
        return None
    try:
        gdef = function_ast(fn)[0]
    except Exception:
        return None
    spec = gdef.args
    if len(spec.args) != 1 or spec.posonlyargs or spec.kwonlyargs or spec.defaults or gdef.decorator_list or \
            spec.vararg is None and spec.kwarg is None:
        return None
    body = gdef.body
    if body and isinstance(body[0], gast.Expr) and isinstance(body[0].value, gast.Constant) and \
            isinstance(body[0].value.value, str):
        body = body[1:]                  # (a docstring)
    if len(body) != 1 or not isinstance(body[0], gast.Return) or not isinstance(body[0].value, gast.Call):
        return None
    call, me = body[0].value, spec.args[0].id
    func = call.func
    if not (isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name) and func.value.id == me):
        return None
    args = [gast.dump(a) for a in call.args]
    want = [] if spec.vararg is None else [gast.dump(gast.Starred(
        value=gast.Name(id=spec.vararg.id, ctx=gast.Load(), annotation=None, type_comment=None), ctx=gast.Load()))]
    keywords = [(k.arg, gast.dump(k.value)) for k in call.keywords]
    want_kw = [] if spec.kwarg is None else [(None, gast.dump(gast.Name(id=spec.kwarg.id, ctx=gast.Load(),
                                                                        annotation=None, type_comment=None)))]
    return func.attr if args == want and keywords == want_kw else None


def _field_kind(kind, name):
    if isinstance(kind, tuple) and len(kind) > 2 and isinstance(kind[2], tuple):
        return dict(f for f in kind[2] if isinstance(f, tuple) and len(f) == 2).get(name)
    return None


def _method_of(cls, name: str, own):
    """The plain function ``name`` of ``cls`` that ``obj.name`` finds for its objects (not hidden by
    an attribute of the instance, ``own`` where known, or one the class's code may set), else None."""
    if own is not None and name in own or _may_set_on_instance(cls, name):
        return None
    return _class_method(cls, name)


def _changes_objects(fn, kind, depth: int = 0, readable: bool = False) -> bool:
    """Does the method ``fn`` (of an object of ``kind``, where known) set attributes of its object or
    change them in place, itself or through a method of it or of a field's object it calls
    (``self.bn(h)`` where BN's ``__call__`` sets ``self.running_mean``)?  ``readable``: only through code
    that can be read in place (not a generator's: ``yield``, left a call, is refused as it was)."""
    from .parse import function_ast
    if depth > 3:
        return False
    if readable and not _Inliner._simple(fn, ()):
        return False
    try:
        gdef = function_ast(fn)[0]
    except Exception:
        return False
    if not gdef.args.args:
        return False
    return _changes_through(gdef, gdef.args.args[0].id, kind, depth, readable)


def _changes_through(gdef, me: str, kind, depth: int, readable: bool = False) -> bool:
    """Does the function ``gdef`` set attributes of the object its parameter ``me`` (of ``kind``) holds, or
    change them in place, itself or through a method of it or of a field's object it calls: ``me(h)``
    (its class's ``__call__``), ``me.update(h)``, ``me.bn(h)``, ``me.bn.update(h)``?"""
    if _sets_own_attributes(gdef, me):
        return True
    found = _class_of_kind(kind)
    cls = found[0] if found is not None else None
    own = found[1] if found is not None else None
    if cls is not None and _held_layers_change(gdef, me, kind, depth, readable):
        return True
    for n in walk_nodes(gdef):
        if isinstance(n, gast.Call) and isinstance(n.func, gast.Name) and n.func.id == me and cls is not None:
            callee = _method_of(cls, "__call__", None)                  # me(h): a helper's ``bn(h)``
            if callee is not None and _plain_class(cls) and _changes_objects(callee, kind, depth + 1, readable):
                return True
            continue
        if not (isinstance(n, gast.Call) and isinstance(n.func, gast.Attribute)):
            continue
        base = n.func.value
        if isinstance(base, gast.Name) and base.id == me and cls is not None:
            field = _field_kind(kind, n.func.attr)
            inner = _class_of_kind(field)
            if inner is not None and _plain_class(inner[0]):            # self.bn(h)
                callee = _method_of(inner[0], "__call__", None)
                if callee is not None and _changes_objects(callee, field, depth + 1, readable):
                    return True
            else:                                                       # self.update(h)
                callee = _method_of(cls, n.func.attr, own)
                if callee is not None and _changes_objects(callee, kind, depth + 1, readable):
                    return True
        elif isinstance(base, gast.Attribute) and isinstance(base.value, gast.Name) and base.value.id == me:
            field = _field_kind(kind, base.attr)                       # self.bn.update(h)
            inner = _class_of_kind(field)
            if inner is not None and _plain_class(inner[0]):
                callee = _method_of(inner[0], n.func.attr, inner[1])
                if callee is not None and _changes_objects(callee, field, depth + 1, readable):
                    return True
    return False


def _helper_changes(g, gdef, at, kind, depth: int) -> bool:
    """Does the helper ``g`` (its tree ``gdef``) change the object of ``kind`` given as its argument ``at`` (a
    position or a keyword), itself, through a method of it, or through a helper of its file it hands the
    parameter on to (``model_loss(W, bn, x)`` calling ``forward(W, bn, x)``)?"""
    from .parse import function_ast
    params = [a.id for a in gdef.args.posonlyargs + gdef.args.args]
    me = params[at] if isinstance(at, int) and at < len(params) else at if isinstance(at, str) else None
    if me is None or depth > 3:
        return False
    if _changes_through(gdef, me, kind, depth, readable=True):
        return True
    for n in walk_nodes(gdef):
        if not (isinstance(n, gast.Call) and isinstance(n.func, gast.Name)):
            continue
        callee = g.__globals__.get(n.func.id)
        if not isinstance(callee, types.FunctionType) or callee.__globals__ is not g.__globals__ or callee is g:
            continue
        # (the parameter itself, or a field of it: ``forward(net.W, net.bn, x)`` of ``body(net, x)``, the field's
        # kind; was: the parameter only, so body was compiled on its own and refused, "body() sets net.bn.rm")
        given = list(enumerate(n.args)) + [(k.arg, k.value) for k in n.keywords if k.arg is not None]
        passed = [(i, kind) for i, a in given if isinstance(a, gast.Name) and a.id == me] + \
            [(i, _field_kind(kind, a.attr)) for i, a in given if isinstance(a, gast.Attribute) and
             isinstance(a.value, gast.Name) and a.value.id == me and _field_kind(kind, a.attr) is not None]
        if not passed:
            continue
        try:
            inner = function_ast(callee)[0]
        except Exception:
            continue
        if any(_helper_changes(callee, inner, i, k, depth + 1) for i, k in passed):
            return True
    return False


def _item_kinds(kind, key=_NO_DEFAULT) -> Optional[List]:
    """The kinds of the items of a list or tuple (``key``: the item at that position, or of a dict at that
    key) of ``kind``; None where not one."""
    if not (isinstance(kind, tuple) and len(kind) > 2 and kind[0] in ("seq", "map") and isinstance(kind[2], tuple)):
        return None
    items = dict(enumerate(kind[2])) if kind[0] == "seq" else \
        dict(f for f in kind[2] if isinstance(f, tuple) and len(f) == 2)
    if key is _NO_DEFAULT:
        return list(items.values()) if kind[0] == "seq" else None
    return [items[key]] if key in items else None


def _held_layers_change(gdef, me: str, kind, depth: int, readable: bool = False) -> bool:
    """Does the method read a list or dict field of its object (``self.layers``) whose items are objects
    of classes whose call sets attributes of theirs (``for layer in self.layers: h = layer(h)``,
    ``self.layers["a"](x)``)?"""
    for n in walk_nodes(gdef):
        if not (isinstance(n, gast.Attribute) and isinstance(n.value, gast.Name) and n.value.id == me):
            continue
        field = _field_kind(kind, n.attr)
        if not (isinstance(field, tuple) and field[:1] in (("seq",), ("map",))):
            continue
        items = dict(enumerate(field[2])) if field[0] == "seq" else \
            dict(f for f in field[2] if isinstance(f, tuple) and len(f) == 2)
        for item in items.values():
            found = _class_of_kind(item)
            if found is not None and _plain_class(found[0]):
                callee = _method_of(found[0], "__call__", None)
                if callee is not None and _changes_objects(callee, item, depth + 1, readable):
                    return True
    return False


def _stored_attributes(tree) -> Set[str]:
    """The attribute names stored or deleted anywhere in ``tree`` (a node or a list of them)."""
    nodes = tree if isinstance(tree, list) else [tree]
    return {n.attr for t in nodes for n in walk_nodes(t)
            if isinstance(n, gast.Attribute) and not isinstance(n.ctx, gast.Load)}


def _sets_own_attributes(gdef, me: Optional[str] = None) -> bool:
    """Does the method's body set an attribute of its first parameter (or of its parameter ``me``), or
    change one in place (``self.total = ...``, ``self.hist.append(...)``)?"""
    from .alias_state import MUTATORS
    if me is None:
        if not gdef.args.args:
            return False
        me = gdef.args.args[0].id
    for n in walk_nodes(gdef):
        if isinstance(n, gast.Attribute) and isinstance(n.ctx, gast.Store):
            base = n.value
            while isinstance(base, gast.Attribute):      # (``self.cell.h = ...``: a field's object's field;
                base = base.value                        # was left a call, refused as a helper's write)
            if isinstance(base, gast.Name) and base.id == me:
                return True
        if isinstance(n, gast.Call) and isinstance(n.func, gast.Attribute) and n.func.attr in MUTATORS and \
                isinstance(n.func.value, gast.Attribute) and isinstance(n.func.value.value, gast.Name) and \
                n.func.value.value.id == me:
            return True
    return False


class _Inliner:
    def __init__(self, fn, fdef, filename: str, namer, rt_name: str, formats: bool, kinds=(),
                 stored: Set[str] = frozenset(), final: bool = False):
        self.fn, self.fdef, self.filename, self.namer, self.rt_name = fn, fdef, filename, namer, rt_name
        self.kinds = kinds
        self.formats = formats             # every helper of the file, else those taking gradients
        self.globals = fn.__globals__
        self.locals = local_names(fdef)
        self.original_locals = frozenset(self.locals)     # (the user's names; those a body read in place binds are new)
        # the caller's arguments it never rebinds: what a site read in place may differentiate by
        self.parameters = {a.id for a in fdef.args.posonlyargs + fdef.args.args + fdef.args.kwonlyargs} | \
            {a.id for a in (fdef.args.vararg, fdef.args.kwarg) if a is not None}
        self.arguments = {a.id for a in fdef.args.args + fdef.args.kwonlyargs} - \
            {n.id for n in walk_nodes(fdef) if isinstance(n, gast.Name) and isinstance(n.ctx, (gast.Store, gast.Del))}
        for extra in (fdef.args.vararg, fdef.args.kwarg):
            if extra is not None:
                self.locals.add(extra.id)
        self.inlined: Set[str] = set()
        self.same_object: Dict[str, str] = {}   # out -> bf of ``out = bf.bump(b)``, bump returning self
        self.methods: List = []            # (class, name) of each method read in place
        # attribute names the function stores anywhere (st.add = ... would be an instance's own)
        self.stored_attributes = _stored_attributes(fdef) | set(stored)
        self.looked_up: Set[str] = set()   # the attribute names a reading below relied on not being set
        self.container_kinds: Dict[str, tuple] = {}    # name -> the kind of the list or dict of layers it holds
        self.classes = self._known_classes(fdef, kinds or ())
        self._fields_read(fdef.body, user=True)     # (the function's own ``for layer in net.layers``)
        # a gradient differentiated again recomputes the code before it: a method read in place there
        # writing into an object from outside (an argument's, a field's) would write twice (refused:
        # site_checks.check_outside_writes), where the method left a call runs once (runtime/effects.py)
        # (final: dlfeval's own function whose sites are its own, each only returned; was any helper taking
        # gradients too, ``step(step(w, ...))`` whose gradient the caller differentiates: recomputed, but its
        # methods were read in place as if not, test_recompute_alias_s49/test_recompute_state_s48)
        sites, helpers = self._gradient_sites(fdef)
        self.recomputes = sites > 1 and not (final and not helpers and _gradients_only_returned(fdef))
        if not self.recomputes:
            self._global_objects(fdef)
        self.nested: Optional[Dict] = None   # the functions the caller defines (_nested_definitions), read once
        # the names a gradient is taken with respect to, and those they are parts of (``h, out = helper(x)``
        # then ``dlgradient(f(out), h)``): a call of a helper assigning one is read in place, so that the
        # derivative of y by h follows the helper's own statements (``out`` computed from ``h``), as in
        # MATLAB's trace and in the same code written inline; left a call it is refused (site_checks)
        self.wrt_sites = _wrt_sites(fdef)
        self.wrt_parts = _wrt_parts(walk_nodes(fdef), {})
        self.wrt_roots = _close_roots(self.wrt_sites, self.wrt_parts)

    def _gradient_sites(self, fdef) -> Tuple[int, int]:
        """The gradient sites of the function and of the helpers of its file it calls by name, and how many
        of them are the helpers' calls."""
        count = helpers = 0
        for n in walk_nodes(fdef):
            if not isinstance(n, gast.Call):
                continue
            f = n.func
            if _site_name(n) is not None:
                count += 1
            elif isinstance(f, gast.Name) and f.id not in self.locals:
                g = self.globals.get(f.id)
                if isinstance(g, types.FunctionType) and _takes_gradients(g):
                    count += 1
                    helpers += 1
        return count, helpers

    def _known_classes(self, fdef, kinds) -> Dict[str, tuple]:
        """name -> (class, the instance's own attribute names, or None where unknown) of the names
        holding an object of a user's class all along: an argument the function never rebinds whose
        kind says so, or a name bound once, to ``Cls(...)`` of a global class."""
        out: Dict[str, tuple] = {}
        self.object_kinds: Dict[str, tuple] = {}       # name -> its object kind, where known
        params = [a.id for a in fdef.args.args]
        for name, kind in zip(params, kinds):
            found = _class_of_kind(kind)
            if found is not None and name in self.arguments and _plain_class(found[0]):
                out[name] = found
                self.object_kinds[name] = kind
        stores: Dict[str, int] = {}
        for n in walk_nodes(fdef):
            if isinstance(n, gast.Name) and not isinstance(n.ctx, gast.Load):
                stores[n.id] = stores.get(n.id, 0) + 1
        for n in walk_nodes(fdef):
            if not (isinstance(n, gast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], gast.Name) and
                    stores.get(n.targets[0].id) == 1 and n.targets[0].id not in params):
                continue
            name, value = n.targets[0].id, n.value
            if isinstance(value, gast.Call) and isinstance(value.func, gast.Name) and value.func.id not in self.locals:
                cls = self.globals.get(value.func.id)
                if _plain_class(cls) and cls.__new__ is object.__new__:
                    out[name] = (cls, None)
            elif isinstance(value, gast.Subscript) and isinstance(value.value, gast.Name) and \
                    value.value.id in params and value.value.id in self.arguments and \
                    isinstance(value.slice, gast.Constant) and type(value.slice.value) in (str, int):
                # bn = p["bn"] (the normalizer's name for a read of an argument's item): its kind is the item's
                # (was: not known, so forward(W, p["bn"], x) whose bn sets its running mean was compiled on its
                # own and refused as setting an attribute of an object its caller passed in)
                from .kinds import child_kind
                item = child_kind(dict(zip(params, kinds)).get(value.value.id), value.slice.value)
                found = _class_of_kind(item)
                if found is not None and _plain_class(found[0]):
                    out[name] = found
                    self.object_kinds[name] = item
            elif isinstance(value, gast.Attribute) and isinstance(value.value, gast.Name) and \
                    value.value.id in self.object_kinds and value.attr not in self.stored_attributes:
                self.looked_up.add(value.attr)
                # layer = self.layer (the normalizer's name for a read of self.layer): its kind is the field's
                field = dict(f for f in self.object_kinds[value.value.id][2] if isinstance(f, tuple) and
                             len(f) == 2).get(value.attr)
                found = _class_of_kind(field)
                if found is not None and _plain_class(found[0]):
                    out[name] = found
                    self.object_kinds[name] = field
        return out

    def _global_objects(self, fdef) -> None:
        """A global the function reads and never binds, holding an object of a user's plain class
        (``drop = Dropout(0.3)`` at module level, called as ``drop(h)``): its methods that set attributes
        of it are read in place as an argument's are (was: left a call, compiled on its own, where its
        object's fields all count as traced: ``self.mask = (rng.random(h.shape) > p) / (1 - p)`` refused
        as "sets self.mask to a traced value on an object its caller passed in", a PyTorch-style
        Dropout; red team 51).  The global is guarded (the same object while the code runs) and each
        method read is checked when it runs (_still_the_method).  Not where a gradient differentiated
        again recomputes the code: a write into an object from outside would run twice there."""
        bound = {n.id for n in walk_nodes(fdef) if isinstance(n, gast.Name) and not isinstance(n.ctx, gast.Load)}
        for n in walk_nodes(fdef):
            if not (isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load)) or n.id in self.locals or \
                    n.id in bound or n.id in self.classes:
                continue
            value = self.globals.get(n.id)
            cls = type(value)
            if value is not None and _plain_class(cls) and cls.__new__ is object.__new__ and \
                    getattr(cls, "__module__", None) == self.globals.get("__name__"):
                from .kinds import kind_of
                try:
                    kind = kind_of(value)
                except Exception:
                    continue
                found = _class_of_kind(kind)
                if found is not None and found[0] is cls and found[1] is not None:
                    self.classes[n.id] = found
                    self.object_kinds[n.id] = kind      # (its fields' objects: ``self.drop(h)`` of a global net)

    def method(self, call: gast.Call):
        """``(function, receiver, its kind or None, its class, the attribute it is read as, the __call__ it is
        reached through or None)`` of a call of a method of an object whose class is known: ``st.add(h)``,
        ``layer(h)`` (its class's ``__call__``), ``self.bn(h)`` (a field's object, by the field's kind),
        ``self.l1.forward(h)`` (a method of a field's object); None where not one."""
        func = call.func
        if isinstance(func, gast.Name) and func.id in self.classes:
            # obj(x): its class's __call__ (a special method: looked up on the class only)
            cls, own = self.classes[func.id]
            found = self._call_of(cls, own, call)
            return None if found is None else (found[0], func, self.object_kinds.get(func.id), cls) + found[1:]
        if isinstance(func, gast.Attribute) and isinstance(func.value, gast.Attribute) and \
                isinstance(func.value.value, gast.Name) and func.value.value.id in self.classes:
            # self.l1.forward(h): a method of a field's object, by the field's kind (was: left a call, and
            # forward's ``self.x = x`` refused on an object its caller passed in)
            base = func.value
            if base.attr in self.stored_attributes or func.attr in self.stored_attributes:
                return None
            self.looked_up.update((base.attr, func.attr))
            field = _field_kind(self.object_kinds.get(base.value.id), base.attr)
            found = _class_of_kind(field)
            if found is None or not _plain_class(found[0]):
                return None
            fn = _method_of(found[0], func.attr, found[1])
            return None if fn is None else (fn, base, field, found[0], func.attr, None)
        if not (isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name)) or \
                func.attr in self.stored_attributes:
            return None
        if func.value.id in self.classes:
            self.looked_up.add(func.attr)
        known = self.classes.get(func.value.id)
        if known is None:
            return None
        cls, own = known
        if own is not None and func.attr in own:
            field = _field_kind(self.object_kinds.get(func.value.id), func.attr)
            found = _class_of_kind(field)
            if found is None or not _plain_class(found[0]):
                return None                # (an attribute of the instance itself, not an object of a known class)
            called = self._call_of(found[0], found[1], call)
            return None if called is None else (called[0], func, field, found[0]) + called[1:]
        fn = _method_of(cls, func.attr, own)
        return None if fn is None else (fn, func.value, self.object_kinds.get(func.value.id), cls, func.attr, None)

    def _call_of(self, cls, own, call: gast.Call):
        """``(function, the attribute it is read as, the __call__ it is reached through or None)`` that
        ``obj(...)`` of an object of ``cls`` runs: its class's ``__call__``, or the method a ``__call__``
        that only hands its arguments on calls (``_forwarded``: ``nn.Module``'s ``self.forward(*args,
        **kwargs)``); None where neither."""
        fn = _method_of(cls, "__call__", None)
        if fn is None:
            return None
        name = _forwarded(fn)
        flags = fn.__code__.co_flags
        if name is None or name in self.stored_attributes or \
                call.args and not flags & inspect.CO_VARARGS or call.keywords and not flags & inspect.CO_VARKEYWORDS:
            return fn, "__call__", None
        self.looked_up.add(name)
        target = _method_of(cls, name, own)
        return (fn, "__call__", None) if target is None else (target, name, fn)

    def block(self, stmts: List, stack, depth: int, in_loop: bool = False) -> List:
        out: List = []
        for s in stmts:
            for field in ("body", "orelse"):
                inner = getattr(s, field, None)
                if isinstance(inner, list) and not isinstance(s, (gast.FunctionDef, gast.ClassDef)):
                    setattr(s, field, self.block(inner, stack, depth, in_loop or isinstance(s, (gast.For, gast.While))))
            replaced = self.statement(s, stack, depth, in_loop)
            out.extend(replaced if replaced is not None else [s])
        return out

    def statement(self, s, stack, depth: int, in_loop: bool) -> Optional[List]:
        if depth >= MAX_DEPTH:
            return None
        if isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], gast.Attribute) and \
                isinstance(s.targets[0].value, gast.Name) and s.targets[0].value.id in self.classes:
            return self.setter(s, stack, depth, in_loop)
        if isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(s.value, gast.Call):
            call, target = s.value, s.targets[0]
        elif isinstance(s, gast.Expr) and isinstance(s.value, gast.Call):
            call, target = s.value, None
        else:
            return None
        wanted = isinstance(target, gast.Name) and target.id in self.wrt_roots
        helper = self.helper(call, stack, in_loop, wanted)
        method = None
        if helper is None and self.formats:
            nested = self.nested_helper(call, getattr(s, "lineno", None))
            body = None if nested is None else self.body_of(*nested, call, getattr(s, "lineno", None), nested=True)
            if body is not None:
                return self.block(_returned_to(body, target, s), stack, depth + 1, in_loop)
        if helper is None:
            if isinstance(call.func, gast.Attribute) and isinstance(call.func.value, gast.Name) and \
                    call.func.value.id in self.same_object:      # out_bump.bump(0.1): bf.bump(0.1)
                call.func.value = gast.Name(id=self.same_object[call.func.value.id], ctx=gast.Load(),
                                            annotation=None, type_comment=None)
            found = self.method(call)
            if found is None:
                return None
            method, receiver, kind, cls, attr, via = found
            if self.recomputes and not (isinstance(receiver, gast.Name) and receiver.id in self.classes and
                                        self.classes[receiver.id][1] is None):
                if method.__globals__ is self.globals and _changes_objects(method, kind):
                    call.sct_recomputed_setter = True     # (its refusal says why: sct/write_checks.py)
                return None      # (only an object the function makes itself, where recomputed)
            # (a method of another module reads that module's globals: read in place, its names
            # would be the caller's; it stays a call)
            if method.__globals__ is not self.globals or not self._simple(method, stack) or \
                    not (wanted or _changes_objects(method, kind)) or \
                    any(isinstance(a, gast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords):
                return None
            helper = method
            call = gast.Call(func=gast.Name(id=method.__name__, ctx=gast.Load(), annotation=None, type_comment=None),
                             args=[copy.deepcopy(receiver)] + list(call.args), keywords=list(call.keywords))
        body = self.body(helper, call, getattr(s, "lineno", None))
        if body is None:
            return None
        if method is not None:
            # (guarded and checked by the name it is read as: ``Net.setk = other`` binds other() as setk)
            self.methods.append((cls, attr))
            checks = [(method, attr)]
            if via is not None:          # obj(x) of a __call__ handing x on: both still the functions read
                self.methods.append((cls, "__call__"))
                checks.insert(0, (via, "__call__"))
            body = self._still_the_method(checks, call.args[0], cls, s) + body
            self._returned_receiver(body, call.args[0], target)
        else:
            self.inlined.add(call.func.id)
        body = _returned_to(body, target, s)
        self._fields_read(body)
        if wanted:
            # what the helper returns is what a gradient is taken with respect to, or holds it: the calls
            # of its body whose results it returns are read in place too (a helper calling a helper)
            self.wrt_parts = _wrt_parts((n for st in body for n in walk_nodes(st)), self.wrt_parts)
            self.wrt_roots = _close_roots(self.wrt_sites, self.wrt_parts)
        return self.block(body, stack + (helper.__code__,), depth + 1, in_loop)

    def _returned_receiver(self, body: List, receiver, target) -> None:
        """``out = bf.bump(b)`` read in place, ``bump`` returning ``self``: ``out`` (bound only here) holds
        ``bf``'s object all along: its method calls are ``bf``'s, read in place as those are (was: left a
        call, so ``bf.bump(b).bump(0.1)``, normalized to ``out_bump.bump(0.1)``, was refused as a call that
        may change its object, fuzz51 F4)."""
        ret = body[-1] if body else None
        if not (isinstance(target, gast.Name) and isinstance(receiver, gast.Name) and
                receiver.id in self.classes and isinstance(ret, gast.Return) and
                isinstance(ret.value, gast.Name) and ret.value.id == receiver.id):
            return
        if sum(1 for n in walk_nodes(self.fdef) if isinstance(n, gast.Name) and n.id == target.id and
               not isinstance(n.ctx, gast.Load)) != 1:
            return
        self.same_object[target.id] = receiver.id

    def setter(self, s, stack, depth: int, in_loop: bool) -> Optional[List]:
        """``obj.x = v`` where ``x`` is a property of obj's known class with a setter: Python runs
        ``type(obj).x.fset(obj, v)``, read in place as a method setting fields is (was: refused,
        sct/write_checks.py, "runs the property's setter, which sct does not differentiate"); a check
        first refuses an object of another class met there when it runs."""
        from .runtime.support import plain_setter
        target = s.targets[0]
        cls = self.classes[target.value.id][0]
        prop = plain_setter(cls, target.attr) if _plain_class(cls) else None
        if prop is None or not isinstance(s.value, (gast.Name, gast.Constant)):
            return None
        fset = prop.fset
        if fset.__globals__ is not self.globals or not self._simple(fset, stack) or \
                fset.__code__.co_argcount != 2 or fset.__code__.co_kwonlyargcount or fset.__defaults__:
            return None
        if self.recomputes and self.classes[target.value.id][1] is not None:
            return None      # (only an object the function makes itself, where recomputed: as methods)
        call = gast.Call(func=gast.Name(id=fset.__name__, ctx=gast.Load(), annotation=None, type_comment=None),
                         args=[copy.deepcopy(target.value), s.value], keywords=[])
        line = getattr(s, "lineno", None)
        body = self.body(fset, call, line)
        if body is None:
            return None
        self.methods.append((cls, target.attr))
        code = fset.__code__
        check = gast.Expr(value=gast.Call(
            func=gast.Attribute(value=gast.Name(id=self.rt_name, ctx=gast.Load(), annotation=None, type_comment=None),
                                attr="property_write_here", ctx=gast.Load()),
            args=[copy.deepcopy(target.value)] + [gast.Constant(value=v, kind=None) for v in
                                                  (target.attr, code.co_filename, code.co_firstlineno, code.co_name)],
            keywords=[]))
        check.lineno = line
        if isinstance(line, int):
            # what its code does is reported at the user's ``obj.x = v`` (was: at the setter's own lines, a
            # refusal of what it changed named its def, red57a R2)
            for st in body:
                for n in walk_nodes(st):
                    if isinstance(getattr(n, "lineno", None), int):
                        n.lineno = n.end_lineno = line
        body = [check] + _returned_to(body, None, s)
        self._fields_read(body)
        return self.block(body, stack + (code,), depth + 1, in_loop)

    def _item_read(self, name: str, value) -> bool:
        """``name`` bound to the list a for loop walks of a list of layers (``rt.as_sequence(self_layers)``)
        or to an item of one (``layer = seq[k]``: every item of one kind; ``self_layers["a"]``): noted
        (``container_kinds``, or ``classes`` for an object of a known class); whether it was such a read."""
        if isinstance(value, gast.Call) and isinstance(value.func, gast.Attribute) and \
                value.func.attr == "as_sequence" and isinstance(value.func.value, gast.Name) and \
                value.func.value.id == self.rt_name and len(value.args) == 1 and not value.keywords and \
                isinstance(value.args[0], gast.Name) and \
                _item_kinds(self.container_kinds.get(value.args[0].id)) is not None:
            self.container_kinds[name] = self.container_kinds[value.args[0].id]     # (a list: itself)
            return True
        if not (isinstance(value, gast.Subscript) and isinstance(value.value, gast.Name) and
                value.value.id in self.container_kinds):
            return False
        kind = self.container_kinds[value.value.id]
        index = value.slice
        if isinstance(index, gast.Constant) and isinstance(index.value, (int, str)) and \
                not isinstance(index.value, bool):
            items = _item_kinds(kind, index.value)
        elif isinstance(index, gast.Name):
            items = _item_kinds(kind)         # (any item: all of one kind)
        else:
            items = None
        if not items or any(k != items[0] for k in items):
            return True
        found = _class_of_kind(items[0])
        if found is not None and _plain_class(found[0]):
            self.classes[name] = found
            self.object_kinds[name] = items[0]
        return True

    def _fields_read(self, body: List, user: bool = False) -> None:
        """The names a body read in place binds once to a field of an object of a known class
        (``self = net.bn``, the normalizer's ``net_l1 = net.l1``) hold an object of the field's kind's class:
        its methods are read in place too (``net_l1.forward(x)`` of Net.forward's ``self.l1.forward(x)``;
        was: left a call, and Linear.forward's ``self.x = x`` refused)."""
        if not self.object_kinds and not self.container_kinds:
            return      # (a name is noted only from one of these: none known, two walks of the body for nothing)
        stores: Dict[str, int] = {}
        for st in body:
            for n in walk_nodes(st):
                if isinstance(n, gast.Name) and not isinstance(n.ctx, gast.Load):
                    stores[n.id] = stores.get(n.id, 0) + 1
        for st in body:
            for n in walk_nodes(st):
                if not (isinstance(n, gast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], gast.Name)):
                    continue
                name, value = n.targets[0].id, n.value
                if stores.get(name) != 1 or name in self.classes or name in self.original_locals and not user:
                    continue
                if self._item_read(name, value):
                    continue
                if not (isinstance(value, gast.Attribute) and isinstance(value.value, gast.Name)) or \
                        value.value.id not in self.object_kinds or value.attr in self.stored_attributes:
                    continue
                field = _field_kind(self.object_kinds[value.value.id], value.attr)
                if _item_kinds(field) is not None or isinstance(field, tuple) and field[:1] == ("map",):
                    self.container_kinds[name] = field          # (self.layers: a list or dict of layers)
                    continue
                found = _class_of_kind(field)
                if found is not None and _plain_class(found[0]):
                    self.looked_up.add(value.attr)
                    self.classes[name] = found
                    self.object_kinds[name] = field

    def _still_the_method(self, checks, receiver, cls, s) -> List:
        """Statements checking, when the call runs, that ``receiver.name`` is still ``method``: the
        class was read from a kind or a constructor when compiling, and code the function runs
        before the call may put an object of another class in the field (``rebind(net)`` setting
        ``net.bn = BN2()``) or give the instance its own attribute of that name: refused then."""
        line = getattr(s, "lineno", None)
        out = []
        if not isinstance(receiver, gast.Name):        # (self.bn: read once into a name of its own)
            name = self.namer.fresh("checked")
            bind = gast.Assign(targets=[gast.Name(id=name, ctx=gast.Store(), annotation=None, type_comment=None)],
                               value=copy.deepcopy(receiver), type_comment=None)
            bind.lineno = line
            out.append(bind)
            self.locals.add(name)
            receiver = gast.Name(id=name, ctx=gast.Load(), annotation=None, type_comment=None)
        for method, attr in checks:
            code = method.__code__
            shown = attr if attr != "__call__" else "__call__ (its call)"
            message = (f"{method.__name__}() of {cls.__name__} was read in place here, as this object's "
                       f"{shown} when compiling; it is now another (an object of another class was put in its "
                       f"place, or the object was given its own attribute {attr!r}, since the function "
                       f"began). Call the method on an object that keeps its class, or return the new object")
            args = [copy.deepcopy(receiver)] + [gast.Constant(value=v, kind=None) for v in
                                                (attr, code.co_filename, code.co_firstlineno, code.co_name, message)]
            check = gast.Expr(value=gast.Call(func=gast.Attribute(value=gast.Name(id=self.rt_name, ctx=gast.Load(),
                                                                                  annotation=None, type_comment=None),
                                                                  attr="method_read_here", ctx=gast.Load()),
                                              args=args, keywords=[]))
            check.lineno = line
            out.append(check)
        return out

    @staticmethod
    def _simple(g, stack) -> bool:
        """A function that can be read in place: not in the stack, no closure (nor ``super()``'s
        cell), not a generator or coroutine, no ``*args``/``**kwargs``, not wrapped."""
        code = g.__code__
        return not (code in stack or code.co_freevars or g.__code__.co_name == "<lambda>"
                    or code.co_flags & (inspect.CO_GENERATOR | inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR |
                                        inspect.CO_VARARGS | inspect.CO_VARKEYWORDS)
                    or getattr(g, "__wrapped__", None) is not None)

    def helper(self, call: gast.Call, stack, in_loop: bool, wanted: bool = False):
        """The plain function of this file ``call`` calls by a global name (None: not one);
        ``wanted``: its result holds what a gradient is taken with respect to."""
        func = call.func
        if not isinstance(func, gast.Name) or func.id in self.locals:
            return None
        g = self.globals.get(func.id)
        if not isinstance(g, types.FunctionType) or g.__globals__ is not self.globals:
            return None
        if not self._simple(g, stack):
            return None
        if any(isinstance(a, gast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords):
            return None
        if _takes_gradients(g):
            # (a gradient taken in a loop cannot be differentiated again yet: such a helper stays
            # a call there, whose own pair can)
            if in_loop or _has_loop(g):
                return None
        elif not (self.formats or wanted or self._writes_into_own_arrays(g, call) or
                  self._writes_into_given_dicts(g, call) or self._changes_known_objects(g, call) or logs_only(g) or
                     (not _sct_module(self.globals) and _meets_formats(g))):
            return None
        return g

    def _changes_known_objects(self, g, call: gast.Call) -> bool:
        """Does ``g`` set attributes of an object of a known class its caller gives it, itself or through
        a method of it (``def forward(W, bn, x): return bn(W @ x)``, where BN's ``__call__`` sets
        ``self.running_mean``)?  Read in place, that write is the caller's own (a method's, read in place
        as below), whose constant fields sct follows (was: compiled on its own, refused: "forward() sets
        bn.rm to a traced value on an object its caller passed in", for ``0.9 * bn.rm + 0.1 *
        extractdata(mu)``).  Not where a gradient differentiated again recomputes the code (as methods)."""
        from .parse import function_ast
        if self.recomputes or _sct_module(self.globals):
            return False
        given = [(i, a) for i, a in enumerate(call.args) if isinstance(a, gast.Name) and a.id in self.classes] + \
            [(k.arg, k.value) for k in call.keywords if isinstance(k.value, gast.Name) and k.value.id in self.classes]
        if not given:
            return False
        try:
            gdef = function_ast(g)[0]
        except Exception:
            return False
        return any(_helper_changes(g, gdef, at, self.object_kinds.get(a.id), 0) for at, a in given)

    def _writes_into_given_dicts(self, g, call: gast.Call) -> bool:
        """Does ``g`` write into what a parameter holds, given there (every such parameter) a parameter of the
        caller holding a dict (MATLAB's model function storing batchnorm's statistics, ``state["bn"]
        ["TrainedMean"] = m``, called as ``model(params, X, state)``)?  Read in place, the write is the
        caller's own into its dict argument, which sct follows (sct.write_checks._argument_item_write) or
        refuses (was: compiled on its own, refused where the data had no format; red team redfix51b R2)."""
        from .parse import function_ast
        written = _writes_into_parameters(g)
        if not written or self.recomputes or _sct_module(self.globals):
            return False
        params = list(g.__code__.co_varnames[:g.__code__.co_argcount + g.__code__.co_kwonlyargcount])
        bound = dict(zip(params, call.args))
        bound.update({k.arg: k.value for k in call.keywords if k.arg is not None})
        dicts = {a.id for a, kind in zip(self.fdef.args.args, self.kinds or ())
                 if isinstance(kind, tuple) and kind[:2] == ("map", dict)}
        if not all(isinstance(bound.get(p), gast.Name) and bound[p].id in dicts for p in written):
            return False
        try:
            gdef = function_ast(g)[0]
        except Exception:
            return False
        return _item_writes_only(gdef, written)

    def _writes_into_own_arrays(self, g, call: gast.Call) -> bool:
        """Does ``g`` write into what a parameter holds, given there (every such parameter) a name the
        caller itself binds (``A = np.zeros(...)``; not one of its parameters, a global or a closure value:
        such a call stays a call, refused where its write reaches the caller's caller, run once where a
        second derivative recomputes it)?"""
        written = _writes_into_parameters(g)
        if not written or _sct_module(self.globals):
            return False
        params = list(g.__code__.co_varnames[:g.__code__.co_argcount + g.__code__.co_kwonlyargcount])
        bound = dict(zip(params, call.args))
        bound.update({k.arg: k.value for k in call.keywords if k.arg is not None})
        own = self.locals - self.parameters
        return all(isinstance(bound.get(p), gast.Name) and bound[p].id in own for p in written)

    def body(self, g, call: gast.Call, line: Optional[int]) -> Optional[List]:
        """The statements computing ``call`` of ``g`` in the caller, the last a Return (None: not
        inlined)."""
        from .parse import function_ast
        try:
            gdef, filename, _ = function_ast(g)
        except Exception:
            return None
        return self.body_of(gdef, filename, g.__defaults__, g.__kwdefaults__, call, line)

    def nested_helper(self, call: gast.Call, line: Optional[int]):
        """``(its tree, file name, defaults, keyword defaults)`` where ``call`` calls a function the caller
        itself defines (``def inner(Z): ...`` or ``act = lambda Z: ...``) at the top level of its body,
        bound once, before the call, with literal defaults; else None."""
        func = call.func
        if not isinstance(func, gast.Name) or any(isinstance(a, gast.Starred) for a in call.args) or \
                any(k.arg is None for k in call.keywords):
            return None
        if self.nested is None:
            self.nested = _nested_definitions(self.fdef)
        found = self.nested.get(func.id)
        if found is None or not isinstance(line, int) or line <= found[1]:
            return None
        if any(isinstance(n, gast.Call) and _site_name(n) for n in walk_nodes(found[0])):
            return None          # (one taking gradients stays a call, with its own pair)
        gdef = copy.deepcopy(found[0])
        spec = gdef.args
        if not all(isinstance(d, gast.Constant) for d in spec.defaults + [d for d in spec.kw_defaults if d is not None]):
            return None          # (a default is evaluated when the def runs, not at the call)
        defaults = tuple(d.value for d in spec.defaults) or None
        kwdefaults = {a.id: d.value for a, d in zip(spec.kwonlyargs, spec.kw_defaults) if d is not None} or None
        return gdef, self.filename, defaults, kwdefaults

    def body_of(self, gdef, filename: str, defaults, kwdefaults, call: gast.Call, line: Optional[int],
                nested: bool = False) -> Optional[List]:
        """``body`` of the function whose tree is ``gdef`` (``nested``: a function the caller defines, whose
        free names are the caller's own, read when it is called)."""
        from .normalize import Normalizer
        if filename != self.filename:
            # another file of the same globals (a notebook cell, exec'd code): its lines numbered
            # from a base of their own in the caller's file, decoded back by every error
            from .runtime.errors import foreign_base
            base = foreign_base(self.filename, filename)
            for n in walk_nodes(gdef):
                if isinstance(getattr(n, "lineno", None), int):
                    n.lineno += base
                    if isinstance(getattr(n, "end_lineno", None), int):
                        n.end_lineno += base
            filename = self.filename
        spec = gdef.args
        if spec.posonlyargs or spec.vararg is not None or spec.kwarg is not None or \
                gdef.decorator_list:
            return None
        if any(isinstance(n, _UNSUPPORTED) for s in gdef.body for n in walk_nodes(s)):
            return None
        params = [a.id for a in spec.args]
        kwonly = [a.id for a in spec.kwonlyargs]
        bound = bind_parameters(params, call.args, [k for k in call.keywords if k.arg not in kwonly],
                                defaults)
        if bound is None:
            return None
        # keyword-only parameters: by keyword only (a surplus positional argument was refused above)
        keyword_only = bind_parameters(kwonly, [], [k for k in call.keywords if k.arg in kwonly],
                                       tuple((kwdefaults or {}).get(n, _NO_DEFAULT) for n in kwonly))
        if keyword_only is None:
            return None
        bound.update(keyword_only)
        params = params + kwonly
        if not self._by_arguments(gdef, params, bound):
            return None
        # its locals get fresh names; the globals it reads must mean the same in the caller
        assigned = {n.id for n in walk_nodes(gdef) if isinstance(n, gast.Name) and
                    isinstance(n.ctx, (gast.Store, gast.Del))} | _captured(gdef)
        stored = set(params) | assigned
        reads = {n.id for n in walk_nodes(gdef) if isinstance(n, gast.Name) and n.id not in stored}
        if reads & self.locals and not nested:
            return None     # (a nested function's free names are the caller's: read at the call, as Python does)
        for name in reads:
            self.namer.reserve(name)
        # a parameter the helper never rebinds reads the caller's argument itself (an atom: the
        # caller's name, which the helper's statements cannot rebind, or a constant)
        same = {p: bound[p] for p in params if p not in assigned and isinstance(bound[p], (gast.Name, gast.Constant))}
        renamed = {name: self.namer.fresh(name) for name in sorted(stored - set(same))}
        gdef.body = [_Substitute(same, renamed).visit(st) for st in gdef.body]
        line = line or gdef.lineno
        prologue = []
        for p in params:                 # the other arguments, bound in order
            if p in same:
                continue
            a = gast.Assign(targets=[gast.Name(id=renamed[p], ctx=gast.Store(), annotation=None,
                                               type_comment=None)],
                            value=copy.deepcopy(bound[p]), type_comment=None)
            a.lineno = line
            prologue.append(a)
        inner = gast.FunctionDef(name=gdef.name, args=gast.arguments(
            args=[], posonlyargs=[], vararg=None, kwonlyargs=[], kw_defaults=[], kwarg=None, defaults=[]),
            body=gdef.body, decorator_list=[], returns=None, type_comment=None, type_params=[])
        inner.lineno = gdef.lineno
        lines = getattr(self.fdef, "sct_dlupdate_lines", ())
        if lines:
            # dlupdate calls refused in an earlier compilation, on the caller's arguments: written out
            # (sct/dlupdates.py; the structures the caller's kinds give)
            from .dlupdates import known_parameters, rewrite_known
            given = known_parameters(self.fdef, self.kinds, self.arguments)
            known = {}
            for p in params:
                arg = bound[p]
                if isinstance(arg, gast.Name) and arg.id in given:
                    known[same[p].id if p in same else renamed[p]] = given[arg.id]
            self.fdef.sct_dlupdate_written.extend(
                rewrite_known(self.fn, inner, known, lines, self.namer, self.rt_name))
        try:
            normalizer = Normalizer(inner, filename, self.namer, self.rt_name)
            normalizer.called_from = self.fn       # (the helper's globals are the caller's: checked above)
            # the caller's names the body now reads (``self`` is the caller's ``st``) are values, not
            # globals: ``st.sub.W`` is atomized as the caller's own chains are, not kept as a module path
            normalizer.locals = normalizer.own_names() | self.locals
            inner = normalizer.run()
        except Exception:
            return None          # (refused or unsupported there: left as a call, compiled on its own)
        if getattr(inner, "sct_entered_checks", False) or getattr(normalizer.fdef, "sct_entered_checks", False):
            # its ``with ... as c`` items are checked in the caller, where they now are (was: not checked, so
            # ``with nullcontext(h.mean(0)) as c: ...; self.rm = c`` of a method read in place lost c's
            # derivative: a wrong gradient, tests/test_layer_state_s48.py WithAs on the argument itself)
            self.fdef.sct_entered_checks = True
        returns = [n for s in inner.body for n in walk_nodes(s) if isinstance(n, gast.Return)]
        if len(returns) != 1 or inner.body[-1] is not returns[0] or \
                any(isinstance(n, _UNSUPPORTED) for s in inner.body for n in walk_nodes(s)):
            return None
        for name in renamed.values():
            self.locals.add(name)
        self.locals |= {n.id for s in inner.body for n in walk_nodes(s)
                        if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)}
        return prologue + inner.body


    def _by_arguments(self, gdef, params, bound) -> bool:
        """Where the helper has more than one gradient site (one may differentiate another's
        gradient), does every one differentiate by a parameter bound to an argument of the caller?
        (``hvp(x * 2, v)``'s second ``dlgradient(.., x)`` read in place would differentiate a gradient
        by the caller's intermediate value, which is not modelled: such a call stays a call, with
        its own pair, as before.)"""
        sites = [(_site_name(n), n) for n in walk_nodes(gdef) if isinstance(n, gast.Call) and _site_name(n)]
        if len(sites) < 2:
            return True
        for name, n in sites:
            for a in (n.args[1:] if name == "dlgradient" else n.args[1:2]):
                while isinstance(a, (gast.Subscript, gast.Attribute)):
                    a = a.value
                if isinstance(a, gast.Name) and a.id in params:
                    b = bound.get(a.id)
                    if not (isinstance(b, gast.Name) and b.id in self.arguments):
                        return False
        return True


def _returned_to(body: List, target, s) -> List:
    """A body read in place (its last statement its one Return) as statements assigning what it returns
    to ``target`` at the call's statement ``s`` (nothing where the call's value is not kept)."""
    *stmts, ret = body
    if target is not None:
        done = gast.Assign(targets=[target], value=ret.value, type_comment=None)
        gast.copy_location(done, s)
        done.lineno = s.lineno
        stmts.append(done)
    return stmts


def _nested_definitions(fdef) -> Dict[str, tuple]:
    """The functions the normalized ``fdef`` defines at the top level of its body and binds nowhere else
    (``def inner(Z):``; the normalizer gave them the caller's names they read as parameters, passed at
    each call: ``inner(p, Z)``): name -> (the FunctionDef, the last line of its definition)."""
    bindings: Dict[str, int] = {}
    for n in walk_nodes(fdef):
        names = []
        if isinstance(n, gast.Name) and isinstance(n.ctx, (gast.Store, gast.Del)):
            names = [n.id]
        elif isinstance(n, (gast.FunctionDef, gast.AsyncFunctionDef, gast.ClassDef)) and n is not fdef:
            names = [n.name]
        elif isinstance(n, gast.alias):
            names = [(n.asname or n.name).split(".")[0]]
        elif isinstance(n, (gast.Global, gast.Nonlocal)):
            names = list(n.names) * 2           # (never taken as bound once)
        for name in names:
            bindings[name] = bindings.get(name, 0) + 1
    for a in fdef.args.args + fdef.args.posonlyargs + fdef.args.kwonlyargs + \
            [x for x in (fdef.args.vararg, fdef.args.kwarg) if x is not None]:
        bindings[a.id] = bindings.get(a.id, 0) + 1
    out: Dict[str, tuple] = {}
    for s in fdef.body:
        if isinstance(s, gast.FunctionDef) and not s.decorator_list and not getattr(s, "type_params", None) and \
                bindings.get(s.name) == 1 and isinstance(getattr(s, "lineno", None), int):
            end = max((getattr(n, "end_lineno", None) or getattr(n, "lineno", 0) or 0) for n in walk_nodes(s))
            out[s.name] = (s, end)
    return out


_SITE_NAMES = ("dlgradient", "dljacobian", "dldivergence", "dllaplacian")


def _site_name(call: gast.Call) -> Optional[str]:
    """``dlgradient`` (or dljacobian, dldivergence, dllaplacian) where ``call`` calls one by that
    name (``dlgradient(...)``, ``sct.dlgradient(...)``), else None."""
    f = call.func
    name = f.id if isinstance(f, gast.Name) else f.attr if isinstance(f, gast.Attribute) else None
    return name if name in _SITE_NAMES else None


def _gradients_only_returned(fdef) -> bool:
    """Does every gradient site of dlfeval's function ``fdef`` (normalized) stand outside loops and nested
    definitions, its result only returned (``gW = dlgradient(L, W); gg = dlgradient(L, g); return L, (gW,
    gg)``, or an early ``return L, dlgradient(L, W)``), no helper of the file taking gradients called?  Then no
    gradient is differentiated again and nothing before a site is recomputed: methods setting fields are read
    in place as with one site (was: any two sites, so the README's batch-norm layer's ``self.rm = 0.9 *
    self.rm + 0.1 * extractdata(mu)`` was compiled on its own and refused as "sets self.bn.rm to a traced
    value", red53u FR1)."""
    sites, loads = [], {}
    returned: Set[str] = set()

    def visit(stmts, in_loop: bool) -> bool:
        for st in stmts:
            if isinstance(st, (gast.FunctionDef, gast.AsyncFunctionDef, gast.ClassDef)):
                if any(isinstance(n, gast.Call) and _site_name(n) for n in walk_nodes(st)):
                    return False
                continue
            nodes = [st] if not isinstance(st, (gast.For, gast.While, gast.If, gast.With, gast.Try)) else \
                [getattr(st, a) for a in ("test", "iter", "target") if getattr(st, a, None) is not None] + \
                [i for i in getattr(st, "items", ())]
            for node in nodes:
                for n in walk_nodes(node):
                    if isinstance(n, gast.Lambda) and any(isinstance(m, gast.Call) and _site_name(m)
                                                          for m in walk_nodes(n)):
                        return False
                    if isinstance(n, gast.Call) and _site_name(n):
                        # (dllaplacian differentiates its own gradient again: recomputed, as test_recompute_state_s48's
                        # toggled_laplacian shows; was taken as only returned)
                        if _site_name(n) == "dllaplacian" or in_loop or not (
                                isinstance(st, gast.Assign) and st.value is n and len(st.targets) == 1
                                and isinstance(st.targets[0], gast.Name)):
                            return False
                        sites.append(st.targets[0].id)
                    elif isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load):
                        loads.setdefault(n.id, []).append(st)
            if isinstance(st, gast.Return) and isinstance(st.value, gast.Name):
                returned.add(st.value.id)
            inner_loop = in_loop or isinstance(st, (gast.For, gast.While))
            for field in ("body", "orelse", "finalbody"):
                if not visit(getattr(st, field, None) or [], inner_loop):
                    return False
            for handler in getattr(st, "handlers", ()):
                if not visit(handler.body, inner_loop):
                    return False
        return True
    if not visit(fdef.body, False) or len(set(sites)) != len(sites):
        return False

    def only_returned(name: str, seen: Set[str]) -> bool:
        if name in seen:
            return False
        seen.add(name)
        for st in loads.get(name, ()):
            if isinstance(st, gast.Return):
                continue
            # (the normalizer's ``out_t = L, out_dlgradient`` then ``return out_t``)
            if not (isinstance(st, gast.Assign) and len(st.targets) == 1 and isinstance(st.targets[0], gast.Name)
                    and isinstance(st.value, (gast.Tuple, gast.List, gast.Name)) and
                    only_returned(st.targets[0].id, seen)):
                return False
        return name in returned or bool(loads.get(name))
    return all(only_returned(t, set()) for t in sites)


def _has_loop(g) -> bool:
    """Does ``g``'s code loop (a for/while or a comprehension: a backward jump)?"""
    import dis

    def loops(code) -> bool:
        return any(i.opname in ("JUMP_BACKWARD", "JUMP_ABSOLUTE", "FOR_ITER", "JUMP_BACKWARD_NO_INTERRUPT")
                   for i in dis.get_instructions(code)) or \
            any(isinstance(c, types.CodeType) and loops(c) for c in code.co_consts)
    return loops(g.__code__)


def _wrt_roots(fdef) -> Set[str]:
    """The names the function's sites differentiate with respect to (``dlgradient(y, h)``, ``d["h"]``'s
    ``d``), and, through the assignments ``a = b``, ``a = b[k]``, ``a = b.name`` (the normalized form of
    ``h, out = helper(x)``), ``a = (b, c)`` (a helper's ``return h, out``; a list, a dict's values), the
    names they are parts of."""
    return _close_roots(_wrt_sites(fdef), _wrt_parts(walk_nodes(fdef), {}))


def _wrt_root(e) -> Optional[str]:
    while isinstance(e, (gast.Subscript, gast.Attribute)):
        e = e.value
    return e.id if isinstance(e, gast.Name) else None


def _wrt_sites(fdef) -> Set[str]:
    """The root names the x of the function's sites read."""
    found: Set[str] = set()
    for n in walk_nodes(fdef):
        if isinstance(n, gast.Call) and _site_name(n) is not None:
            found.update(r for r in (_wrt_root(a.value if isinstance(a, gast.Starred) else a) for a in n.args[1:])
                         if r is not None)      # (``dlgradient(L, *m.parameters())``, red56c F1)
    return found


def _wrt_parts(nodes, parts: Dict[str, Set[str]]) -> Dict[str, Set[str]]:
    """``parts`` with, for each ``a = b`` / ``b[k]`` / ``b.name`` / ``(b, c)`` / ``{"k": b}`` among
    ``nodes``, a's parts b (and c)."""
    for n in nodes:
        if isinstance(n, gast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], gast.Name):
            v = n.value
            if _items_copied(v) is not None:
                v = _items_copied(v)          # ``rest = rt.listed(t[:-1])`` of ``*rest, last = t``; list(t)
            for e in (v.elts if isinstance(v, (gast.Tuple, gast.List)) else
                      [e for e in v.values if e is not None] if isinstance(v, gast.Dict) else [v]):
                r = _wrt_root(e.value if isinstance(e, gast.Starred) else e)
                if r is not None:
                    parts.setdefault(n.targets[0].id, set()).add(r)
    return parts


def _items_copied(v):
    """The operand of ``rt.listed(e)`` / ``rt.as_sequence(e)`` / ``list(e)`` / ``tuple(e)`` (a new list or
    tuple of the items of ``e``), else None."""
    if isinstance(v, gast.Call) and len(v.args) == 1 and not v.keywords and (
            isinstance(v.func, gast.Attribute) and v.func.attr in ("listed", "as_sequence") or
            isinstance(v.func, gast.Name) and v.func.id in ("list", "tuple")):
        return v.args[0]
    return None


def _close_roots(found: Set[str], parts: Dict[str, Set[str]]) -> Set[str]:
    found = set(found)
    todo = list(found)
    while todo:
        for r in parts.get(todo.pop(), ()):
            if r not in found:
                found.add(r)
                todo.append(r)
    return found


def _sct_module(globals_: dict) -> bool:
    """sct's runtime (its helpers write into buffers they are given: left as calls, with their rules)."""
    return str(globals_.get("__name__", "")).startswith(("sct.", "sct_generated"))


_STORES = frozenset(dis.opmap[name] for name in ("STORE_SUBSCR", "STORE_ATTR", "DELETE_SUBSCR") if name in dis.opmap)
_INPLACE_OPS = frozenset(op for name, op in dis.opmap.items() if name.startswith("INPLACE_"))
_BINARY_OP = dis.opmap.get("BINARY_OP")       # (3.11: its argument says in place from 13, NB_INPLACE_ADD)


def _augments(raw: bytes) -> bool:
    """Does the bytecode ``raw`` hold an augmented assignment (``t op= v``)?"""
    return any(raw[i] in _INPLACE_OPS or raw[i] == _BINARY_OP and raw[i + 1] >= 13 for i in range(0, len(raw) - 1, 2))


_WRITES_INTO_PARAMETERS: Dict[int, tuple] = {}


def _item_writes_only(gdef, params) -> bool:
    """Is every write into the parameters ``params`` in ``gdef`` a write of an item by constant keys
    (``state["bn"]["TrainedMean"] = m``): no other name bound to them, no method called on them or their
    items, no slice written, no ``+=``?"""
    def rooted(node) -> bool:
        while isinstance(node, gast.Subscript):
            node = node.value
        return isinstance(node, gast.Name) and node.id in params

    def item_chain(node) -> bool:
        while isinstance(node, gast.Subscript):
            if not (isinstance(node.slice, gast.Constant) and type(node.slice.value) in (str, int)):
                return False
            node = node.value
        return True
    for n in walk_nodes(gdef):
        if isinstance(n, gast.Assign):
            if any(rooted(t) and not (isinstance(t, gast.Subscript) and item_chain(t)) for t in n.targets):
                return False
            if isinstance(n.value, gast.Name) and n.value.id in params:
                return False                    # (another name for the dict)
        elif isinstance(n, gast.AugAssign) and rooted(n.target):
            return False
        elif isinstance(n, gast.Call) and isinstance(n.func, gast.Attribute) and rooted(n.func.value):
            return False
    return True


def _writes_into_parameters(g) -> frozenset:
    """Does ``g`` write into what a parameter holds (``traj[k] = v``, ``out.w = v``, ``acc.append(v)``,
    ``buf[i] += v``, ``vx -= v``)?  The names of those parameters (none: it does not, or it also writes into a
    global's object).  Read in place, such a helper's writes are the caller's own writes into its
    argument (the parameter reads the caller's name), which sct follows (or refuses where it cannot);
    compiled on its own, a write into its caller's object is refused."""
    code = g.__code__
    held = _WRITES_INTO_PARAMETERS.get(id(code))
    # (the answer read the helpers ``g`` calls by their global names, and what each of them writes into:
    # kept with it and checked on reuse, so a helper redefined since (a notebook cell run again) is read
    # again; was: the old helper's "writes nothing" kept for g's code, so g stayed a call and its write,
    # made by the new helper, was refused, where a fresh process read g in place and ran it)
    if held is not None and held[0] is code and held[2] is g.__globals__ and \
            (id(code) in _CHECKING or _callees_hold(code, g.__globals__, held[3])):
        return held[1]
    from .alias_state import MUTATORS
    ops = code.co_code[::2]
    found: Set[str] = set()
    consulted: list = []
    # (while reading: a recursive call says none)
    _WRITES_INTO_PARAMETERS[id(code)] = (code, frozenset(), g.__globals__, ())
    callees = [c for c in (g.__globals__.get(name) for name in code.co_names)
               if isinstance(c, types.FunctionType) and c.__globals__ is g.__globals__ and c is not g]
    if any(op in _STORES for op in ops) or any(name in MUTATORS for name in code.co_names) or callees or \
            _augments(code.co_code):
        from .parse import function_ast
        try:
            gdef, _, _ = function_ast(g)
        except Exception:
            gdef = None
        if gdef is not None:
            a = gdef.args
            params = {p.id for p in a.posonlyargs + a.args + a.kwonlyargs}
            own = {n.id for n in walk_nodes(gdef) if isinstance(n, gast.Name) and not isinstance(n.ctx, gast.Load)}
            outside = False
            for n in walk_nodes(gdef):
                if isinstance(n, (gast.Subscript, gast.Attribute)) and isinstance(n.ctx, (gast.Store, gast.Del)):
                    base = n.value
                elif isinstance(n, gast.Call) and isinstance(n.func, gast.Attribute) and n.func.attr in MUTATORS:
                    base = n.func.value
                elif isinstance(n, gast.AugAssign) and isinstance(n.target, gast.Name):
                    # ``vx -= v``: an array's (or a list's) items changed in place, a number's rebound
                    if n.target.id in params:
                        found.add(n.target.id)
                    continue
                elif isinstance(n, gast.Call) and isinstance(n.func, gast.Name) and \
                        any(c is g.__globals__.get(n.func.id) for c in callees) and \
                        any(isinstance(a, gast.Name) and a.id in params for a in n.args) and \
                        _consulted(consulted, n.func.id, g.__globals__[n.func.id]):
                    # (a helper of the file it gives parameters to writes into them: those given there)
                    callee = g.__globals__[n.func.id]
                    names = callee.__code__.co_varnames[:callee.__code__.co_argcount + callee.__code__.co_kwonlyargcount]
                    given = dict(zip(names, n.args))
                    given.update({k.arg: k.value for k in n.keywords if k.arg is not None})
                    for name in _writes_into_parameters(callee):
                        a = given.get(name)
                        if isinstance(a, gast.Name) and a.id in params:
                            found.add(a.id)
                        elif not (isinstance(a, gast.Name) and a.id in own):
                            outside = True
                    continue
                else:
                    continue
                while isinstance(base, (gast.Subscript, gast.Attribute)):
                    base = base.value
                if isinstance(base, gast.Name) and base.id in params:
                    found.add(base.id)
                elif not (isinstance(base, gast.Name) and base.id in own):
                    outside = True      # (it also writes into a global's object: left a call, which runs once)
            if outside:
                found = set()
    if len(_WRITES_INTO_PARAMETERS) >= 4096:
        _WRITES_INTO_PARAMETERS.clear()
    _WRITES_INTO_PARAMETERS[id(code)] = (code, frozenset(found), g.__globals__, tuple(consulted))
    return frozenset(found)


_MISSING = object()
_CHECKING: Set[int] = set()      # the codes whose kept answers are being checked (helpers calling each other)


def _callees_hold(code, globals_: dict, consulted) -> bool:
    """The helpers an answer read (``(name, callee, its answer)``) are still those names' and give it."""
    if not consulted:
        return True
    _CHECKING.add(id(code))
    try:
        return all(globals_.get(name, _MISSING) is callee and _writes_into_parameters(callee) == answer
                   for name, callee, answer in consulted)
    finally:
        _CHECKING.discard(id(code))


def _consulted(consulted: list, name: str, callee) -> frozenset:
    """``_writes_into_parameters(callee)``, noted in ``consulted`` with the global name it was read by."""
    answer = _writes_into_parameters(callee)
    consulted.append((name, callee, answer))
    return answer


def _meets_formats(g, depth: int = 0) -> bool:
    """Does ``g`` (a function of the caller's file) meet data formats itself (``dlarray(x, fmt)``,
    ``DataFormat=``, a formatted default), or through the functions of its file it calls by name?  Such a
    helper is read in place also where its caller meets none (``Y = model(p, X)`` labelling its data,
    ``loss = crossentropy(Y, T)`` in the caller: compiled on its own it was refused as returning a formatted
    dlarray)."""
    code = g.__code__
    cached = _MEETS_FORMATS.get(code)
    if cached is not None:
        return cached
    _MEETS_FORMATS[code] = False            # (recursion: not through itself)
    found = False
    if "dlarray" in code.co_names or "DataFormat" in code.co_names or any(
            isinstance(c, str) and c == "DataFormat" for c in code.co_consts):
        try:
            from .parse import function_ast
            found = uses_formats(function_ast(g)[0], ())
        except Exception:
            found = False
    if not found and depth < MAX_DEPTH:
        for n in code.co_names:
            h = g.__globals__.get(n)
            if isinstance(h, types.FunctionType) and h is not g and h.__globals__ is g.__globals__ and \
                    not _sct_module(g.__globals__) and _meets_formats(h, depth + 1):
                found = True
                break
    if len(_MEETS_FORMATS) > 4096:
        _MEETS_FORMATS.clear()
    _MEETS_FORMATS[code] = found
    return found


_MEETS_FORMATS: Dict = {}


def _takes_gradients(g) -> bool:
    """Does ``g`` call dlgradient (or dljacobian, dldivergence, dllaplacian) by a global name?"""
    from .hooks import API
    sites = API.SITE_FUNCTIONS
    for n in g.__code__.co_names:        # (global names and attribute names: sct.dlgradient too)
        if n in _SITE_NAMES or \
                any(g.__globals__.get(n) is f for f in sites):
            return True
    return False


def _captured(gdef) -> set:
    """The names a ``match`` statement's patterns bind (``case c:``, ``case [*rest]``, ``case {**rest}``:
    strings in the tree, not Name nodes)."""
    return {name for n in walk_nodes(gdef) for _, name in pattern_captures(n)}


class _Substitute(gast.NodeTransformer):
    """Parameters read as the caller's arguments, the helper's other names renamed (a ``match``
    pattern's captures too: was left as it was, so ``case c:`` bound the caller's ``c`` while the
    helper's renamed ``c_1`` kept its earlier value: a wrong value, and a wrong derivative)."""

    def __init__(self, same: Dict[str, gast.AST], renamed: Dict[str, str]):
        self.same, self.renamed = same, renamed

    def generic_visit(self, node):
        for f, name in pattern_captures(node):
            if name in self.renamed:
                setattr(node, f, self.renamed[name])
        return super().generic_visit(node)

    def visit_Name(self, node):
        if node.id in self.same:
            return gast.copy_location(copy.deepcopy(self.same[node.id]), node)
        if node.id in self.renamed:
            node.id = self.renamed[node.id]
        return node
