"""A base class's ``__init__`` called from a subclass's with traced values, read in place.

``super().__init__(w * k, b)`` (or ``Base.__init__(self, w * k, b)``) runs the base's ``__init__``
on ``self``: a call whose effect is on its object, which the differentiated code would not follow
(the aliasing checks refuse it).  Where that ``__init__`` only sets attributes of ``self`` from its
parameters (``self.w = w``, ``self.b = b * 2``, with nothing else: no call, no other name), the call
is the same as its statements with the arguments bound first: the statement is replaced by them
(each at the caller's line), and the attributes' derivatives are followed as the caller's own.
Anything else is left as it was (and refused there, as before).
"""
from __future__ import annotations

import copy
import types
from typing import Dict, List, Optional

import gast

from .ir import tree_changed, walk_nodes

_ALLOWED = (gast.Name, gast.Constant, gast.BinOp, gast.UnaryOp, gast.Attribute, gast.Subscript,
            gast.Tuple, gast.List, gast.Slice, gast.Load, gast.Store, gast.operator, gast.unaryop,
            gast.expr_context)


def inline_base_inits(fn, fdef: gast.FunctionDef, kinds) -> None:
    """Replace, in the body of ``fn``'s tree ``fdef``, each ``super().__init__(...)`` /
    ``Base.__init__(self, ...)`` statement given arguments by the base ``__init__``'s attribute
    stores, where that ``__init__`` is that simple."""
    if not isinstance(fn, types.FunctionType) or not fdef.args.args or not _mentions_init(fdef):
        return
    me = fdef.args.args[0].id
    cls = None
    kind = kinds[0] if kinds else None
    if isinstance(kind, tuple) and len(kind) > 1 and kind[0] in ("obj", "const") and isinstance(kind[1], type):
        cls = kind[1]
    if cls is None:
        return
    owner = _owner(fn)
    used = {n.id for n in walk_nodes(fdef) if isinstance(n, gast.Name)}
    fdef.body = _rewrite(fdef.body, fn, me, cls, owner, used, depth=0)
    tree_changed(fdef)          # (inside sct.ir.shared_walks: walked again)


def _mentions_init(fdef) -> bool:
    return any(isinstance(n, gast.Attribute) and n.attr == "__init__" for n in walk_nodes(fdef))


def _owner(fn) -> Optional[type]:
    """The class whose body defined ``fn`` (its ``__class__`` cell, there where it calls super())."""
    names = fn.__code__.co_freevars
    if "__class__" in names and fn.__closure__:
        try:
            value = fn.__closure__[names.index("__class__")].cell_contents
        except ValueError:
            return None
        return value if isinstance(value, type) else None
    return None


def _named_owner(sup: gast.Call, fn, me: str) -> Optional[type]:
    """The class ``C`` of a two-argument ``super(C, self)`` (Python 2's spelling, which old code keeps):
    ``C`` a global name of the method's module bound to a class, the second argument its first
    parameter; None for anything else."""
    if len(sup.args) != 2 or sup.keywords or not all(isinstance(a, gast.Name) for a in sup.args) or \
            sup.args[1].id != me or not isinstance(fn, types.FunctionType):
        return None
    name = sup.args[0].id
    if name in _local_names(fn) or name in fn.__code__.co_freevars:
        return None
    found = fn.__globals__.get(name)
    return found if isinstance(found, type) else None


def _rewrite(body: List, fn, me: str, cls: type, owner, used, depth: int) -> List:
    out = []
    for s in body:
        stmts = _inlined(s, fn, me, cls, owner, used, depth)
        out.extend(stmts if stmts is not None else [s])
    return out


def _inlined(s, fn, me: str, cls: type, owner, used, depth: int) -> Optional[List]:
    if depth > 8 or not isinstance(s, gast.Expr) or not isinstance(s.value, gast.Call):
        return None
    call = s.value
    func = call.func
    if not isinstance(func, gast.Attribute) or func.attr != "__init__":
        return None
    args = list(call.args)
    target = func.value
    if isinstance(target, gast.Call) and isinstance(target.func, gast.Name) and target.func.id == "super" \
            and not target.keywords and (not target.args or _named_owner(target, fn, me) is not None):
        if target.args:
            owner = _named_owner(target, fn, me)
        if owner is None or owner not in cls.__mro__:
            return None
        mro = cls.__mro__
        base_init, defining = _lookup(mro[mro.index(owner) + 1:])
    elif isinstance(target, gast.Name) and args and isinstance(args[0], gast.Name) and args[0].id == me:
        base = fn.__globals__.get(target.id)
        if not isinstance(base, type) or base not in cls.__mro__ or target.id in _local_names(fn):
            return None
        mro = cls.__mro__
        base_init, defining = _lookup(mro[mro.index(base):])
        args = args[1:]
    else:
        return None
    if base_init is None:
        return None
    if base_init is object.__init__:
        return [] if not args and not call.keywords else None
    if not isinstance(base_init, types.FunctionType) or \
            any(isinstance(a, gast.Starred) for a in args) or any(k.arg is None for k in call.keywords):
        return None
    bdef = _dataclass_init(defining, base_init)
    if bdef is None:
        try:
            from .parse import function_ast
            bdef, _, _ = function_ast(base_init)
        except Exception:
            return None
    elif bdef is False:
        return None
    spec = bdef.args
    if spec.vararg is not None or spec.kwarg is not None or spec.posonlyargs or spec.kwonlyargs or \
            not spec.args:
        return None
    params = [a.id for a in spec.args]
    bself, params = params[0], params[1:]
    bound = bind_parameters(params, args, call.keywords, base_init.__defaults__)
    if bound is None:
        return None
    # the base's body: attribute stores on self from its parameters only (a docstring first)
    stmts = list(bdef.body)
    if stmts and isinstance(stmts[0], gast.Expr) and isinstance(stmts[0].value, gast.Constant) and \
            isinstance(stmts[0].value.value, str):
        stmts = stmts[1:]
    line = getattr(s, "lineno", None)
    inner: List = []
    for st in stmts:
        if isinstance(st, gast.Pass):
            continue
        if isinstance(st, gast.Expr) and isinstance(st.value, gast.Call):
            # its own super().__init__(...): read in place too (the next class in self's MRO)
            for a in list(st.value.args) + [k.value for k in st.value.keywords]:
                for n in gast.walk(a):
                    if not isinstance(n, _ALLOWED + (gast.Starred,)) or \
                            isinstance(n, gast.Name) and n.id not in params and n.id != bself:
                        return None
            sub = _inlined(st, base_init, bself, cls, defining, used, depth + 1)
            if sub is None:
                return None
            inner.extend(("nested", x) for x in sub)
            continue
        if not (isinstance(st, gast.Assign) and len(st.targets) == 1 and
                isinstance(st.targets[0], gast.Attribute) and isinstance(st.targets[0].value, gast.Name) and
                st.targets[0].value.id == bself):
            return None
        for n in gast.walk(st.value):
            if not isinstance(n, _ALLOWED):
                return None
            if isinstance(n, gast.Name) and n.id not in params and n.id != bself:
                return None
        inner.append(("store", st))
    # the arguments first, in order (as the call evaluates them), each to a fresh name
    out: List = []
    names: Dict[str, gast.AST] = {}
    for p in params:
        fresh = _fresh(f"{p}_{defining.__name__}_init" if defining is not None else p, used)
        assign = gast.Assign(targets=[gast.Name(id=fresh, ctx=gast.Store(), annotation=None, type_comment=None)],
                             value=bound[p], type_comment=None)
        out.append(assign)
        names[p] = gast.Name(id=fresh, ctx=gast.Load(), annotation=None, type_comment=None)
    names[bself] = gast.Name(id=me, ctx=gast.Load(), annotation=None, type_comment=None)
    for how, st in inner:
        out.append(_renamed(st, names))
    for st in out:
        for n in gast.walk(st):
            if hasattr(n, "lineno") or isinstance(n, (gast.stmt, gast.expr)):
                n.lineno = line
                n.end_lineno = line
                n.col_offset = getattr(s, "col_offset", 0)
                n.end_col_offset = getattr(s, "end_col_offset", 0)
    return out


def bind_parameters(params: List[str], args, keywords, defaults) -> Optional[Dict[str, gast.AST]]:
    """Each named parameter's argument expression for a call given ``args`` and ``keywords``
    (a missing one: its default, a literal number, string, bool or None); None where the call
    cannot be bound so (too many arguments, an unknown or repeated keyword, another default)."""
    bound: Dict[str, gast.AST] = {}
    if len(args) > len(params):
        return None
    for p, a in zip(params, args):
        bound[p] = a
    for k in keywords:
        if k.arg not in params or k.arg in bound:
            return None
        bound[k.arg] = k.value
    defaults = defaults or ()
    for i, p in enumerate(params):
        if p in bound:
            continue
        j = i - (len(params) - len(defaults))
        if j < 0:
            return None
        value = defaults[j]
        if not (value is None or isinstance(value, (bool, int, float, complex, str))):
            return None
        bound[p] = gast.Constant(value=value, kind=None)
    return bound


def _dataclass_init(klass, init, post_init: bool = False):
    """The generated ``__init__`` of the dataclass ``klass`` as a tree setting each field from its
    parameter (None: not a dataclass's generated ``__init__``; False: one doing more, a
    ``__post_init__`` (unless ``post_init``: then its call ends the tree, as it ends the
    dataclass's ``__init__``), a default factory, frozen fields)."""
    import dataclasses
    code = getattr(init, "__code__", None)
    if klass is None or not dataclasses.is_dataclass(klass) or code is None or code.co_filename != "<string>":
        return None
    params = getattr(klass, "__dataclass_params__", None)
    if hasattr(klass, "__post_init__") != post_init or params is None or params.frozen:
        return False
    every = dataclasses.fields(klass)
    fields = [f for f in every if f.init]
    if any(f.default_factory is not dataclasses.MISSING or getattr(f, "kw_only", False) or
           f._field_type is not dataclasses._FIELD for f in fields):
        return False
    if any(f.name == "self" for f in every):
        return False
    # a field not given to __init__ (init=False) is set there from its default: a constant only
    # (a default_factory's value is made by a call: the base is left as it is, and refused there)
    constants = (type(None), bool, int, float, complex, str)
    unset = [f for f in every if not f.init]
    if any(f.default_factory is not dataclasses.MISSING or f._field_type is not dataclasses._FIELD or
           f.default is not dataclasses.MISSING and type(f.default) not in constants for f in unset):
        return False
    unset = [f for f in unset if f.default is not dataclasses.MISSING]

    def name(n, ctx):
        return gast.Name(id=n, ctx=ctx, annotation=None, type_comment=None)
    args = [name("self", gast.Param())] + [name(f.name, gast.Param()) for f in fields]
    body = [gast.Assign(targets=[gast.Attribute(value=name("self", gast.Load()), attr=f.name, ctx=gast.Store())],
                        value=name(f.name, gast.Load()), type_comment=None) for f in fields] + \
        [gast.Assign(targets=[gast.Attribute(value=name("self", gast.Load()), attr=f.name, ctx=gast.Store())],
                     value=gast.Constant(value=f.default, kind=None), type_comment=None) for f in unset]
    if post_init:       # self.__post_init__(): no InitVar (refused above: not a _FIELD) to pass it
        body.append(gast.Expr(value=gast.Call(
            func=gast.Attribute(value=name("self", gast.Load()), attr="__post_init__", ctx=gast.Load()),
            args=[], keywords=[])))
    return gast.FunctionDef(name="__init__", args=gast.arguments(args=args, posonlyargs=[], vararg=None,
                                                                 kwonlyargs=[], kw_defaults=[], kwarg=None,
                                                                 defaults=[]),
                            body=body, decorator_list=[], returns=None, type_comment=None, type_params=[])


def _lookup(classes):
    """``__init__`` as getattr finds it along ``classes``, and the class defining it."""
    for klass in classes:
        if "__init__" in vars(klass):
            return vars(klass)["__init__"], klass
    return None, None


def _local_names(fn) -> set:
    return set(fn.__code__.co_varnames) | set(fn.__code__.co_cellvars)


def _fresh(base: str, used: set) -> str:
    name = base
    k = 1
    while name in used:
        name = f"{base}_{k}"
        k += 1
    used.add(name)
    return name


def _renamed(st, names: Dict[str, gast.AST]):
    """A copy of ``st`` with each loaded name in ``names`` replaced (the stored self's name too)."""
    st = copy.deepcopy(st)

    class Rename(gast.NodeTransformer):
        def visit_Name(self, node):
            if node.id in names:
                new = copy.deepcopy(names[node.id])
                if isinstance(new, gast.Name):
                    new.ctx = node.ctx
                return new
            return node
    return Rename().visit(st)


def inline_super_calls(fn, fdef: gast.FunctionDef, kinds, guards: Optional[List] = None) -> None:
    """``super().name(args)`` in a method of an object whose class is known when compiling: the
    call of the method it finds, by the name the module knows its class by,
    ``Defining.name(self, args)`` (the same function on the same object; was refused as "no
    derivative rule for super"). Left as it was where the class, the defining class's global name
    or a plain function there cannot be found, or where the method rebinds its first parameter.
    ``guards`` gets ``(class, attribute)`` pairs whose values the choice read: each class searched
    before the defining one (``Mid.name = f`` later makes super() find Mid's) and the class's MRO."""
    if not isinstance(fn, types.FunctionType) or not fdef.args.args:
        return
    me = fdef.args.args[0].id
    # super() and super(C, self): the class whose successors along self's MRO the call searches
    calls = [(n, _named_owner(n.func.value, fn, me) if n.func.value.args else _owner(fn))
             for n in walk_nodes(fdef) if isinstance(n, gast.Call) and isinstance(n.func, gast.Attribute) and
             isinstance(n.func.value, gast.Call) and isinstance(n.func.value.func, gast.Name) and
             n.func.value.func.id == "super" and not n.func.value.keywords and n.func.attr != "__init__" and
             (not n.func.value.args or _named_owner(n.func.value, fn, me) is not None)]
    if not calls:
        return
    kind = kinds[0] if kinds else None
    cls = kind[1] if isinstance(kind, tuple) and len(kind) > 1 and kind[0] in ("obj", "const") and \
        isinstance(kind[1], type) else None
    rebinds_me = any(isinstance(n, gast.Name) and n.id == me and isinstance(n.ctx, (gast.Store, gast.Del))
                     for n in walk_nodes(fdef))
    if cls is None or rebinds_me:
        return
    mro = cls.__mro__
    for call, owner in calls:
        if owner is None or owner not in mro:
            continue
        attr = call.func.attr
        defining = next((k for k in mro[mro.index(owner) + 1:] if attr in vars(k)), None)
        if defining is None or not isinstance(vars(defining)[attr], types.FunctionType):
            continue
        name = defining.__name__ if fn.__globals__.get(defining.__name__) is defining else \
            next((k for k, v in fn.__globals__.items() if v is defining), None)
        made = getattr(fdef, "sct_made", None)
        if name is None and made is not None and ".<locals>." in defining.__qualname__:
            # a class made by a class statement inside a function (sct/local_classes.py): no global name,
            # the compiled code reads it by a name the compiler binds (was: 'no derivative rule for super')
            name = f"sct_class_{defining.__name__}"
            while name in fn.__globals__ or name in fn.__code__.co_names or \
                    made.get(name, defining) is not defining:
                name += "_"
            made[name] = defining
        if name is None or name in _local_names(fn) or name in fn.__code__.co_freevars:
            continue
        if guards is not None:
            # what Python's super() searches on each call: a class between gaining the method (a
            # notebook cell patching Mid.f) finds that one (was: Defining.f read, stale)
            guards.append((cls, "__mro__"))
            guards.extend((k, attr) for k in mro[mro.index(owner) + 1:mro.index(defining) + 1])
        call.func = gast.Attribute(value=gast.Name(id=name, ctx=gast.Load(), annotation=None, type_comment=None),
                                   attr=attr, ctx=gast.Load())
        call.args = [gast.Name(id=me, ctx=gast.Load(), annotation=None, type_comment=None)] + list(call.args)
        for n in gast.walk(call.func):
            gast.copy_location(n, call)
        tree_changed(fdef)      # (inside sct.ir.shared_walks: walked again)


def inline_type_of_parameters(fn, fdef: gast.FunctionDef, kinds) -> None:
    """``type(p)`` and ``p.__class__`` of a parameter whose kind names its class (an object of the
    user's class: the compiled code is for that class only): the class itself, by the name the module
    knows it by (``type(self)(self.W * k)``, a functional update building a new object of the same
    class; was refused as "no derivative rule for type").  Left as it was where the class has no
    global name there, the parameter is rebound, ``type`` is not the builtin, or a class defines its
    own ``__class__``.  The global name read is guarded as any global the code reads."""
    if not isinstance(fn, types.FunctionType) or not kinds or not fdef.args.args:
        return
    if not any(isinstance(n, gast.Name) and n.id == "type" or isinstance(n, gast.Attribute) and
               n.attr == "__class__" for n in walk_nodes(fdef)):
        return
    local = _local_names(fn) | set(fn.__code__.co_freevars)
    rebound = {n.id for n in walk_nodes(fdef) if isinstance(n, gast.Name) and
               isinstance(n.ctx, (gast.Store, gast.Del))}
    classes: Dict[str, str] = {}
    for arg, kind in zip(fdef.args.args, kinds):
        p = arg.id
        if p in rebound or not (isinstance(kind, tuple) and len(kind) > 1 and kind[0] == "obj" and
                                isinstance(kind[1], type)):
            continue
        cls = kind[1]
        if any("__class__" in vars(k) for k in cls.__mro__[:-1]):
            continue
        name = cls.__name__ if fn.__globals__.get(cls.__name__) is cls else \
            next((k for k, v in fn.__globals__.items() if v is cls), None)
        if name is not None and name not in local:
            classes[p] = name
    if not classes:
        return
    builtin_type = "type" not in local and "type" not in fn.__globals__

    def named(node, p):
        return gast.copy_location(gast.Name(id=classes[p], ctx=gast.Load(), annotation=None,
                                            type_comment=None), node)

    class Rewrite(gast.NodeTransformer):
        def visit_FunctionDef(self, node):
            return self.generic_visit(node) if node is fdef else node     # (a nested def's own names)

        def visit_Lambda(self, node):
            return node

        def visit_Call(self, node):
            self.generic_visit(node)
            if builtin_type and isinstance(node.func, gast.Name) and node.func.id == "type" and \
                    len(node.args) == 1 and not node.keywords and isinstance(node.args[0], gast.Name) and \
                    node.args[0].id in classes:
                return named(node, node.args[0].id)
            return node

        def visit_Attribute(self, node):
            self.generic_visit(node)
            if node.attr == "__class__" and isinstance(node.ctx, gast.Load) and \
                    isinstance(node.value, gast.Name) and node.value.id in classes:
                return named(node, node.value.id)
            return node
    Rewrite().visit(fdef)
    tree_changed(fdef)          # (inside sct.ir.shared_walks: walked again)


def inline_generator_methods(fn, fdef: gast.FunctionDef, kinds, guards: Optional[List] = None) -> None:
    """``m.parameters()`` where ``parameters`` is a generator method (``def parameters(self): yield
    self.W ...``) of the class ``m``'s kind names (a parameter, or a field of one: ``self.l1``): the
    call of the function the class gives, ``Defining.parameters(m)``, which the generator pass reads
    as the list of its items like a generator called by name (was refused: "sct cannot differentiate
    yield in parameters()").  Left as it was where an instance attribute of that name may hide the
    method, the class has no global name there, or the object's name is rebound.  ``guards`` gets
    what the choice read: the MRO and each class searched up to the defining one."""
    import inspect
    if not isinstance(fn, types.FunctionType) or not kinds or not fdef.args.args:
        return
    kinds_of = {a.id: k for a, k in zip(fdef.args.args, kinds)}
    rebound = {n.id for n in walk_nodes(fdef) if isinstance(n, gast.Name) and
               isinstance(n.ctx, (gast.Store, gast.Del))}
    local = _local_names(fn) | set(fn.__code__.co_freevars)

    def kind_at(node):
        if isinstance(node, gast.Name):
            return kinds_of.get(node.id) if node.id not in rebound else None
        if isinstance(node, gast.Attribute) and isinstance(node.ctx, gast.Load):
            outer = kind_at(node.value)
            if isinstance(outer, tuple) and len(outer) > 2 and outer[0] == "obj":
                return dict(outer[2]).get(node.attr)
        return None

    loop_items = _loop_item_kinds(fdef, kind_at)
    for n in walk_nodes(fdef):
        if not (isinstance(n, gast.Call) and isinstance(n.func, gast.Attribute) and
                isinstance(n.func.ctx, gast.Load)):
            continue
        attr = n.func.attr
        if isinstance(n.func.value, gast.Name) and n.func.value.id in loop_items:
            # ``for layer in self.layers: yield from layer.parameters()``: each item's class gives the
            # same generator function
            item_kinds = loop_items[n.func.value.id]
            founds = [_generator_method_of(k, attr) for k in item_kinds]
            if not founds or any(f is None or f[1:] != founds[0][1:] for f in founds):
                continue
        else:
            item_kinds = (kind_at(n.func.value),)
            founds = [_generator_method_of(item_kinds[0], attr)]
            if founds[0] is None:
                continue
        _, defining, method = founds[0]
        name = defining.__name__ if fn.__globals__.get(defining.__name__) is defining else \
            next((k for k, v in fn.__globals__.items() if v is defining), None)
        if name is None or name in local:
            continue
        if guards is not None:
            for cls, _, _ in founds:
                guards.append((cls, "__mro__"))
                guards.extend((k, attr) for k in cls.__mro__[:cls.__mro__.index(defining) + 1])
        # a generator whose only calls of methods are generator methods of its object's fields, of
        # classes the kind names, that change nothing themselves (``yield from self.fc1.parameters()``):
        # pure as a whole, which the generator pass cannot see from the code alone (it refused the
        # call, "changes objects or draws random numbers"); what the choice read is guarded
        nested: List = []
        methods: List = []
        if all(generator_pure_for(method, k, nested, methods=methods) for k in item_kinds):
            n._sct_pure_generator = True
            # (the generator methods read on its behalf: what they read is checked as its own, a global
            # rebound between two items included)
            n._sct_nested_generators = tuple(methods)
            if guards is not None:
                guards.extend(nested)
        receiver = n.func.value
        n.func = gast.copy_location(gast.Attribute(
            value=gast.copy_location(gast.Name(id=name, ctx=gast.Load(), annotation=None, type_comment=None), n),
            attr=attr, ctx=gast.Load()), n)
        n.args = [receiver] + list(n.args)
        # (inside sct.ir.shared_walks: walked again; this walk goes on over the nodes it had queued, as
        # a fresh walk would: n's old children, queued before n was met)
        tree_changed(fdef)


def _loop_item_kinds(fdef, kind_at) -> Dict[str, tuple]:
    """The target of each loop over a list or tuple whose kind ``kind_at`` knows (``for layer in
    self.layers:``), a name bound nowhere else in ``fdef``: the kinds of the items it takes."""
    stores: Dict[str, int] = {}
    for n in walk_nodes(fdef):
        if isinstance(n, gast.Name) and isinstance(n.ctx, (gast.Store, gast.Del)):
            stores[n.id] = stores.get(n.id, 0) + 1
    out: Dict[str, tuple] = {}
    for n in walk_nodes(fdef):
        if isinstance(n, gast.For) and isinstance(n.target, gast.Name) and stores.get(n.target.id) == 1:
            seq = kind_at(n.iter)
            if isinstance(seq, tuple) and len(seq) > 2 and seq[0] == "seq" and seq[1] in (list, tuple):
                out[n.target.id] = tuple(seq[2])
    return out


def _generator_method_of(kind, attr: str):
    """(the class, the class defining it, the function) where ``attr`` of an object of ``kind`` (an
    "obj" kind naming its class) is a generator function its class gives; None where it is not, or
    where an instance attribute of that name or the class's own attribute access may hide it."""
    import inspect
    if not (isinstance(kind, tuple) and len(kind) > 2 and kind[0] == "obj" and isinstance(kind[1], type)):
        return None
    cls = kind[1]
    if attr in dict(kind[2]) or any(isinstance(vars(k).get(a), types.FunctionType) for k in cls.__mro__
                                     for a in ("__getattr__", "__getattribute__")):
        return None                     # (an instance attribute, or the class's own attribute access)
    defining = next((k for k in cls.__mro__ if attr in vars(k)), None)
    method = vars(defining).get(attr) if defining is not None else None
    if not (isinstance(method, types.FunctionType) and method.__code__.co_flags & inspect.CO_GENERATOR):
        return None
    return cls, defining, method


def generator_pure_for(method, kind, guards: List, depth: int = 0, seen: tuple = (), methods=None) -> bool:
    """Does the generator method ``method``, called on an object of ``kind``, change nothing its caller
    sees and draw no random numbers, counting each call in it of a generator method of its object or
    of a field of it (``yield from self.fc1.parameters()``) by what that field's class (from ``kind``)
    gives, the same question one level down?  ``guards`` gets the classes and attributes the answer
    read (replacing one recompiles)."""
    from .callee_effects import _pure_source
    from .normalize_loops import _draws
    from .parse import function_ast
    if depth > 8 or any(m is method for m in seen):
        return False
    try:
        fdef = function_ast(method)[0]
    except Exception:
        return False
    if not fdef.args.args:
        return False
    me = fdef.args.args[0].id
    if any(isinstance(n, gast.Name) and n.id == me and isinstance(n.ctx, (gast.Store, gast.Del))
           for n in walk_nodes(fdef)):
        return False

    def kind_at(node):
        if isinstance(node, gast.Name):
            return kind if node.id == me else None
        if isinstance(node, gast.Attribute) and isinstance(node.ctx, gast.Load):
            outer = kind_at(node.value)
            if isinstance(outer, tuple) and len(outer) > 2 and outer[0] == "obj":
                return dict(outer[2]).get(node.attr)
        return None

    item_kinds = _loop_item_kinds(fdef, kind_at)

    pure_calls = set()
    read: List = []
    below: List = []            # the generator methods of fields counted pure, at any depth
    for n in walk_nodes(fdef):
        if not (isinstance(n, gast.Call) and isinstance(n.func, gast.Attribute) and
                isinstance(n.func.ctx, gast.Load)):
            continue
        receiver = n.func.value
        if isinstance(receiver, gast.Name) and receiver.id in item_kinds:
            candidates = item_kinds[receiver.id]
        else:
            candidates = (kind_at(receiver),)
        found_all = []
        for field_kind in candidates:
            found = _generator_method_of(field_kind, n.func.attr)
            if found is None or not generator_pure_for(found[2], field_kind, read, depth + 1, seen + (method,),
                                                       below):
                break
            found_all.append(found)
        else:
            pure_calls.add(id(n))
            below.extend(f[2] for f in found_all)
            for cls, defining, _ in found_all:
                read.append((cls, "__mro__"))
                read.extend((k, n.func.attr) for k in cls.__mro__[:cls.__mro__.index(defining) + 1])
    modules = frozenset(k for k, v in method.__globals__.items() if isinstance(v, types.ModuleType))
    if _draws(fdef, modules) or not _pure_source(method, fdef, pure_calls=frozenset(pure_calls)):
        return False
    guards.extend(read)
    if methods is not None:
        methods.extend(m for m in below if not any(m is k for k in methods))
    return True


_POST_INITS: dict = {}      # id(class) -> (class, its __init__, its __post_init__, the function made)


def dataclass_post_init(klass):
    """The ``__init__`` that ``@dataclass`` wrote for ``klass``, which has a ``__post_init__``, as a
    function sct can read (None where ``_dataclass_init`` cannot write it: a default factory, an
    InitVar, keyword-only or frozen fields): the fields set from the parameters, then
    ``self.__post_init__()``, the same defaults, in the globals of the ``__post_init__`` and at its
    line, so that errors name the user's file.  sct differentiates it as an ordinary ``__init__``
    (was: refused, "a dataclass with __post_init__ is not supported").  Made once per class,
    ``__init__`` and ``__post_init__`` (both compared by identity)."""
    import ast
    init = klass.__dict__.get("__init__") or getattr(klass, "__init__", None)
    post = getattr(klass, "__post_init__", None)
    # (each class's own __post_init__ along the MRO: a base's, read in place of super().__post_init__(),
    # replaced later makes the function again)
    chain = tuple(vars(k).get("__post_init__") for k in klass.__mro__)
    held = _POST_INITS.get(id(klass))
    if held is not None and held[0] is klass and held[1] is init and held[2] is post and \
            len(held[4]) == len(chain) and all(a is b for a, b in zip(held[4], chain)):
        return held[3]
    post_fn = getattr(post, "__func__", post)
    # the method as the class holds it: a plain function (a classmethod's or staticmethod's would be
    # read as the object's own, its `cls` taken for `self`: was, a classmethod setting cls.tag set the
    # object's attribute instead)
    held_by = next((vars(k)["__post_init__"] for k in klass.__mro__ if "__post_init__" in vars(k)), None)
    if not isinstance(held_by, types.FunctionType) or held_by is not post_fn or \
            post_fn.__code__.co_argcount != 1:
        return None
    tree = _dataclass_init(klass, init, post_init=True)
    if not tree or len(tree.args.args) - 1 < len(init.__defaults__ or ()) or init.__kwdefaults__:
        return None
    filename, line = post_fn.__code__.co_filename, post_fn.__code__.co_firstlineno
    for node in gast.walk(tree):
        if isinstance(node, (gast.stmt, gast.expr)):
            node.lineno, node.col_offset = line, 0
            node.end_lineno, node.end_col_offset = line, 0
    inlined = _post_init_body(post_fn, [a.id for a in tree.args.args[1:]], klass)
    if inlined is not None:         # its statements in place of the call, at their own lines
        tree.body[-1:] = inlined
    module = gast.gast_to_ast(gast.Module(body=[copy.deepcopy(tree)], type_ignores=[]))
    ast.fix_missing_locations(module)
    text = ast.unparse(module)
    code = next(c for c in compile(module, filename, "exec").co_consts if isinstance(c, types.CodeType))
    made = types.FunctionType(code, post_fn.__globals__, "__init__", init.__defaults__)
    made.__qualname__ = f"{klass.__qualname__}.__init__"
    made.__module__ = klass.__module__
    made.__sct_items_tree__ = (tree, filename, text)
    if len(_POST_INITS) >= 1024:
        _POST_INITS.clear()
    _POST_INITS[id(klass)] = (klass, init, post, made, chain)
    return made


def _post_init_body(post_fn, fields: List[str], klass=None, depth: int = 0) -> Optional[List]:
    """The statements of ``__post_init__`` to run in place of ``self.__post_init__()`` at the end of
    the dataclass's ``__init__`` (its attribute stores then those of ``__init__`` itself, which
    sct differentiates to any order; a method call storing into ``self`` is refused by a second
    derivative): None where they may not mean the same there, and the call stays.  Not inlined:
    a closure (``super()`` included, but for a statement ``super().__post_init__()``), a name equal
    to a field's (``__init__``'s parameter), ``self`` as another name, a private ``__name`` (mangled
    by the class body only), a return of a value, a nested def, lambda, yield or scope statement.
    A statement ``super().__post_init__()`` (or ``Base.__post_init__(self)``) of a subclass's is the
    base's ``__post_init__`` read in place the same way (``klass``: the dataclass built), where that
    one returns nowhere and binds no name the other uses (was: the call stayed, refused as a method
    changing its object)."""
    from .parse import function_ast
    free = post_fn.__code__.co_freevars
    if free and (free != ("__class__",) or klass is None) or depth > 8:
        return None
    try:
        pdef, _, _ = function_ast(post_fn)
    except Exception:
        return None
    me = pdef.args.args[0].id if pdef.args.args else None
    if me is None or pdef.args.vararg or pdef.args.kwarg or pdef.decorator_list:
        return None
    names = set()
    for node in gast.walk(pdef):
        if isinstance(node, (gast.FunctionDef, gast.AsyncFunctionDef, gast.ClassDef, gast.Lambda, gast.Yield,
                             gast.YieldFrom, gast.Await, gast.Global, gast.Nonlocal)) and node is not pdef:
            return None
        if isinstance(node, gast.Return) and node.value is not None and \
                not (isinstance(node.value, gast.Constant) and node.value.value is None):
            return None
        if isinstance(node, gast.Name):
            names.add(node.id)
        attr = getattr(node, "attr", None) if isinstance(node, gast.Attribute) else None
        for n in (attr, getattr(node, "id", None)):
            if isinstance(n, str) and n.startswith("__") and not n.endswith("__"):
                return None
    if names & set(fields) or (me != "self" and "self" in names):
        return None
    body = pdef.body
    if body and isinstance(body[0], gast.Expr) and isinstance(body[0].value, gast.Constant) and \
            isinstance(body[0].value.value, str):
        body = body[1:]                 # its docstring
    if klass is not None:
        body = _base_post_inits(body, post_fn, me, names, fields, klass, depth)
        if body is None:
            return None
    if {"super", "__class__"} & {n.id for st in body for n in gast.walk(st) if isinstance(n, gast.Name)}:
        return None
    if me != "self":
        for node in gast.walk(gast.Module(body=body, type_ignores=[])):
            if isinstance(node, gast.Name) and node.id == me:
                node.id = "self"
    return list(body) or None


def _base_post_inits(body: List, post_fn, me: str, names: set, fields: List[str], klass, depth: int):
    """``body`` with each statement ``super().__post_init__()`` or ``Base.__post_init__(self)`` replaced by
    the statements of the ``__post_init__`` it calls along ``klass``'s MRO (``_post_init_body``, renamed
    ``self``); None where one cannot be read so."""
    out: List = []
    mro = klass.__mro__
    bound = {n.id for st in body for n in gast.walk(st) if isinstance(n, gast.Name) and
             isinstance(n.ctx, (gast.Store, gast.Del))}
    for st in body:
        call = st.value if isinstance(st, gast.Expr) and isinstance(st.value, gast.Call) else None
        func = call.func if call is not None else None
        if not (isinstance(func, gast.Attribute) and func.attr == "__post_init__" and not call.keywords):
            out.append(st)
            continue
        target = func.value
        if isinstance(target, gast.Call) and isinstance(target.func, gast.Name) and target.func.id == "super" \
                and not target.keywords and not call.args and \
                (not target.args or _named_owner(target, post_fn, me) is not None):
            # super().__post_init__(), or Python 2's super(Sub, self).__post_init__()
            owner = _named_owner(target, post_fn, me) if target.args else _owner(post_fn)
            if owner is None or owner not in mro:
                return None
            start = mro.index(owner) + 1
        elif isinstance(target, gast.Name) and len(call.args) == 1 and isinstance(call.args[0], gast.Name) and \
                call.args[0].id == me and target.id not in _local_names(post_fn) and \
                isinstance(post_fn.__globals__.get(target.id), type) and post_fn.__globals__[target.id] in mro:
            start = mro.index(post_fn.__globals__[target.id])
        else:
            out.append(st)
            continue
        defining = next((k for k in mro[start:] if "__post_init__" in vars(k)), None)
        base_fn = vars(defining).get("__post_init__") if defining is not None else None
        if not isinstance(base_fn, types.FunctionType) or base_fn.__code__.co_argcount != 1 or \
                base_fn.__defaults__ or base_fn.__globals__ is not post_fn.__globals__ or \
                base_fn.__code__.co_filename != post_fn.__code__.co_filename:
            return None
        inner = _post_init_body(base_fn, fields, klass, depth + 1)
        if inner is None:
            return None
        inner_names = {n.id for s2 in inner for n in gast.walk(s2) if isinstance(n, gast.Name)}
        inner_bound = {n.id for s2 in inner for n in gast.walk(s2) if isinstance(n, gast.Name) and
                       isinstance(n.ctx, (gast.Store, gast.Del))}
        # (its return would end the subclass's too; a name both bind, or one binds and the other reads,
        # would be one variable where Python has two)
        if any(isinstance(n, gast.Return) for s2 in inner for n in gast.walk(s2)) or \
                (inner_bound & (names - {me})) or ((inner_names - {"self"}) & bound):
            return None
        if me != "self":
            for s2 in inner:
                for n in gast.walk(s2):
                    if isinstance(n, gast.Name) and n.id == "self":
                        n.id = me
        out.extend(inner)
    return out
