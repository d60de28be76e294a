"""Does a helper of the user's return new values, none computed from another it returns?

A helper that takes ``dlgradient`` with respect to a list, dict or object it is given differentiates
each item as a value of its own (sct/helper_sites.py).  Where its caller passes the value another
helper returned (``g3(mk(w))``), the items may be computed from one another inside that helper
(``mk`` returning ``{"a": w, "b": w * 3}``): the gradient for ``a`` would miss the path through
``b`` that MATLAB's trace follows.  The caller then refuses the call (sct/call_tree.py), unless
:func:`fresh_components` reads in the returning helper's own source that each component of what
it returns is fresh: an array computed there, or a display (or comprehension, or ``|`` / ``+`` of
them) whose items are new values (arithmetic, numpy's functions, derivatives) or items of its
parameters selected by a constant key, none read by another item.  More is refused than needs to
be, never less (a helper building its dict in a loop, returning a name bound twice, or calling
another helper for an item is read as not fresh).
"""
from __future__ import annotations

import dataclasses
import types
from typing import Optional, Tuple

import gast

from .ir import walk_no_defs, walk_nodes
from .runtime.origins import module_top

_MODULES = ("numpy", "math", "cmath", "sct", "runtime")
_READS = frozenset(("get", "items", "keys", "values", "copy", "index", "count"))
_UNKNOWN = object()         # a key not known when compiling (a comprehension's)


def fresh_components(fn, tree_of, outside_of, depth: int = 0) -> Optional[Tuple[Optional[frozenset], ...]]:
    """Per component of what ``fn`` returns (the items of the tuple each ``return`` gives, or the
    one value): None where it is not fresh (see the module's doc), else the key paths of its items
    that are its parameters' items read by other items too (linking only where traced).
    ``tree_of(f)``: the gast def of a function (None: not read); ``outside_of(f)(node)``: what a
    name ``f`` does not bind refers to.  A function ``fn`` calls for what it returns is read the
    same way, and one returning a parameter as it is (``_keep(q, x)``) as that argument.  None
    where ``fn`` cannot be read."""
    tree = tree_of(fn) if isinstance(fn, types.FunctionType) and depth < 4 else None
    if tree is None:
        return None
    outside = outside_of(fn)
    body = [n for st in tree.body if not isinstance(st, (gast.FunctionDef, gast.AsyncFunctionDef, gast.ClassDef))
            for n in walk_no_defs(st)]        # (a def of its own: not its statements, nor its returns)
    returns = [n.value for n in body if isinstance(n, gast.Return)]
    if not returns or any(v is None for v in returns):
        return None
    bound: dict = {}            # name -> its bindings' values (None: not ``name = value``)
    for n in body:
        if isinstance(n, gast.Name) and not isinstance(n.ctx, gast.Load):
            bound.setdefault(n.id, [])
    for n in body:
        if isinstance(n, gast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], gast.Name):
            bound[n.targets[0].id].append(n.value)
    steps = [st for st in tree.body if _optimizer_step(st, outside)]
    stepped = {id(t) for st in steps for t in st.targets[0].elts}
    for n in body:
        if isinstance(n, gast.Name) and not isinstance(n.ctx, gast.Load) and not bound[n.id] and id(n) not in stepped:
            bound[n.id].append(None)        # (a loop's target, ``with ... as``, an unpacking)
    fills = {}      # id(node) -> the _Fill of ``out[k] = v`` or ``out.append(v)`` (v put into out's object)
    loops = {}      # id(``out[k]`` written) -> the loop directly around it
    todo = [(st, None) for st in tree.body]
    while todo:
        st, loop = todo.pop()
        if isinstance(st, gast.Assign) and len(st.targets) == 1 and isinstance(st.targets[0], gast.Subscript):
            loops[id(st.targets[0])] = loop
        for field in ("body", "orelse"):
            todo.extend((c, st if isinstance(st, gast.For) and field == "body" else loop)
                        for c in getattr(st, field, None) or () if isinstance(c, gast.stmt))
    for n in body:
        if isinstance(n, gast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], gast.Subscript) and \
                isinstance(n.targets[0].value, gast.Name):
            fills[id(n.targets[0])] = _Fill(n.value, n.targets[0], loops.get(id(n.targets[0])))
        elif isinstance(n, gast.Call) and isinstance(n.func, gast.Attribute) and n.func.attr == "append" and \
                isinstance(n.func.value, gast.Name) and len(n.args) == 1 and not n.keywords:
            fills[id(n)] = _Fill(n.args[0])
    for n in body:
        # a name written into (``out[k] = v``, ``out.append(v)``, ``out += [v]``): bound again (a fill:
        # what it puts there; anything else: not told)
        root = None
        if isinstance(n, (gast.Subscript, gast.Attribute)) and isinstance(n.ctx, (gast.Store, gast.Del)):
            root = n.value
        elif isinstance(n, gast.Call) and isinstance(n.func, gast.Attribute) and n.func.attr not in _READS:
            root = n.func.value
        while isinstance(root, (gast.Subscript, gast.Attribute)):
            root = root.value
        if isinstance(root, gast.Name) and root.id in bound:
            bound[root.id].append(fills.get(id(n)))
    updated = set()         # names bound by ``p, vel = sgdmupdate(p, g, vel, ...)`` at the body's top level
    for n in body:
        if isinstance(n, (gast.Assign, gast.AugAssign, gast.AnnAssign)) and not (
                isinstance(n, gast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], gast.Name)):
            if any(st is n for st in steps):
                # sct's optimizers build new arrays for each parameter and state (pd + new_v): each
                # name bound to the call itself, a new value reading every argument (was: not told, so
                # a step helper returning the new parameters was refused in a loop, red team 51 FR8)
                for t in n.targets[0].elts:
                    bound[t.id].append(n.value)
                    updated.add(t.id)
                continue
            for target in n.targets if isinstance(n, gast.Assign) else [n.target]:
                for t in walk_nodes(target):
                    if isinstance(t, gast.Name) and isinstance(t.ctx, gast.Store):
                        bound[t.id].append(None)
    params = {a.id for a in walk_nodes(tree.args) if isinstance(a, gast.Name)}
    # a parameter bound again once, by a statement of the body itself (``p = {k: p[k] - ...}`` before
    # ``return p, m, v``): what is returned is that value, read as a local's
    params -= {st.targets[0].id for st in tree.body if isinstance(st, gast.Assign) and len(st.targets) == 1 and
               isinstance(st.targets[0], gast.Name) and len(bound.get(st.targets[0].id, ())) == 1}
    params -= {name for name in updated if len(bound.get(name, ())) == 1}
    reader = _Reader(bound, params, outside, tree_of, outside_of, depth)
    sizes = {len(v.elts) if isinstance(v, gast.Tuple) else None for v in returns}
    if len(sizes) == 1 and None not in sizes:
        n = sizes.pop()
        return tuple(_union(reader.component(v.elts[k]) for v in returns) for k in range(n))
    return (_union(reader.component(v) for v in returns),)


_OPTIMIZER_STEPS = ("sgdmupdate", "adamupdate", "rmspropupdate")


def _optimizer_step(n, outside) -> bool:
    """``p, vel = sgdmupdate(...)`` (adamupdate, rmspropupdate) of sct's, unpacked into names."""
    if not (isinstance(n, gast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], (gast.Tuple, gast.List))
            and n.targets[0].elts and all(isinstance(t, gast.Name) for t in n.targets[0].elts) and
            isinstance(n.value, gast.Call) and isinstance(n.value.func, (gast.Name, gast.Attribute))):
        return False
    try:
        fn = outside(n.value.func)
    except Exception:           # noqa: BLE001  (not known: not one)
        return False
    return getattr(fn, "__name__", None) in _OPTIMIZER_STEPS and \
        module_top(fn) in ("sct", "runtime")


def _union(parts) -> Optional[frozenset]:
    parts = list(parts)
    return None if any(p is None for p in parts) else frozenset().union(*parts)


class _Fill:
    """A value put into a list or dict a name holds (``out[k] = v``, ``out.append(v)``), with the
    item written (``out[k]``) and the loop directly around it, where it is ``out[k] = v``."""
    def __init__(self, value, target=None, loop=None):
        self.value, self.target, self.loop = value, target, loop


class _Reader:
    def __init__(self, bound, params, outside, tree_of, outside_of, depth):
        self.bound, self.params, self.outside, self.tree_of = bound, params, outside, tree_of
        self.outside_of, self.depth = outside_of, depth

    def passed_through(self, node):
        """The argument a call of a function returning one of its parameters as it is (every
        ``return`` the same positional one) gives back, or None."""
        if not (isinstance(node, gast.Call) and isinstance(node.func, gast.Name)) or node.func.id in self.bound:
            return None
        fn = self.outside(node.func)
        tree = self.tree_of(fn) if isinstance(fn, types.FunctionType) else None
        if tree is None or tree.args.vararg is not None or any(isinstance(a, gast.Starred) for a in node.args):
            return None
        names = [a.id for a in tree.args.args if isinstance(a, gast.Name)]
        returns = [n.value for st in tree.body for n in walk_no_defs(st) if isinstance(n, gast.Return)]
        if not returns or not all(isinstance(r, gast.Name) for r in returns) or len({r.id for r in returns}) != 1:
            return None
        name = returns[0].id
        if name not in names or \
                any(isinstance(n, gast.Name) and n.id == name and not isinstance(n.ctx, gast.Load)
                    for st in tree.body for n in walk_nodes(st)):
            return None
        k = names.index(name)
        return node.args[k] if k < len(node.args) else None

    def single(self, name: str):
        """The value ``name`` is bound to, where it is bound once by ``name = value``."""
        values = self.bound.get(name, ())
        return values[0] if len(values) == 1 and not isinstance(values[0], _Fill) else None

    def filled(self, name: str):
        """The values put into a new list or dict ``name`` holds (``out = {}`` then ``out[k] = v`` or
        ``out.append(v)``, none of them reading ``out``), or None."""
        values = self.bound.get(name, ())
        made = [v for v in values if not isinstance(v, _Fill)]
        fills = [v for v in values if isinstance(v, _Fill)]
        put = [f.value for f in fills]
        empty = len(made) == 1 and (isinstance(made[0], gast.List) and not made[0].elts or
                                    isinstance(made[0], gast.Dict) and not made[0].keys)
        if not empty:
            return self.replaced(name, made, fills)
        if any(isinstance(n, gast.Name) and n.id == name for v in put for n in walk_nodes(v)):
            return None
        return put

    def replaced(self, name: str, made, fills):
        """The values of a copy of a parameter's dict whose every item is put again in a loop over
        its keys (``q = dict(p); for k in g: q[k] = q[k] - lr * g[k]``, ``g = dlgradient(.., p)``
        having p's keys), each reading ``q`` only as ``q[k]``; or None."""
        if len(made) != 1 or not fills:
            return None
        v = made[0]
        copied = v.args[0].id if isinstance(v, gast.Call) and len(v.args) == 1 and not v.keywords and \
            isinstance(v.args[0], gast.Name) and self.outside(v.func) is dict else None
        if copied is None or copied not in self.params:
            return None
        for fill in fills:
            value, target, loop = fill.value, fill.target, fill.loop
            if loop is None or not isinstance(loop.target, gast.Name) or not isinstance(target.slice, gast.Name) or \
                    target.slice.id != loop.target.id or not isinstance(loop.iter, gast.Name) or \
                    not self.keys_of(loop.iter.id, copied, name):
                return None
            k = loop.target.id
            reads = [n for n in walk_nodes(value) if isinstance(n, gast.Name) and n.id == name]
            own = [n for n in walk_nodes(value) if isinstance(n, gast.Subscript) and isinstance(n.value, gast.Name)
                   and n.value.id == name and isinstance(n.slice, gast.Name) and n.slice.id == k]
            if len(reads) != len(own) or self.bound.get(k, [None]) != [None]:
                return None
        return [f.value for f in fills]

    def keys_of(self, name: str, copied: str, made: str) -> bool:
        """Does ``name`` have exactly the keys of the parameter ``copied``: it is that parameter, the
        copy ``made``, or a name bound once to ``dlgradient(..., copied)``?"""
        if name in (copied, made):
            return True
        v = self.single(name)
        return isinstance(v, gast.Call) and getattr(self.outside(v.func), "__name__", None) == "dlgradient" and \
            len(v.args) == 2 and isinstance(v.args[1], gast.Name) and v.args[1].id == copied and not v.keywords

    def component(self, node) -> Optional[frozenset]:
        """The paths that may link a component's items (see linking), empty for a new array; None:
        not fresh."""
        items = self.items(node, 0)
        if items is not None:
            return self.linking(items)
        if self.new_value(node, 0):
            return frozenset()
        while isinstance(node, gast.Name) and node.id not in self.params and self.single(node.id) is not None:
            node = self.single(node.id)
        if isinstance(node, gast.Call) and isinstance(node.func, gast.Name) and node.func.id not in self.bound:
            # what a function of the user's returns (``return _jstep(p, x)``): read in its own code
            fn = self.outside(node.func)
            found = fresh_components(fn, self.tree_of, self.outside_of, self.depth + 1)
            return found[0] if found is not None and len(found) == 1 else None
        return None

    def items(self, node, depth: int):
        """``(key, item expression)`` of a display (the key a constant one, or _UNKNOWN), a
        comprehension, ``dict(k=v, ...)``, ``sct.dlupdate(lambda ...: new value, ...)``, or ``|`` /
        ``+`` of them; None if ``node`` is none of these."""
        if isinstance(node, gast.Name) and node.id not in self.params and depth < 8:
            put = self.filled(node.id)
            if put is not None:
                return [(_UNKNOWN, v) for v in put]
            value = self.single(node.id)
            return self.items(value, depth + 1) if value is not None else None
        if isinstance(node, gast.Call) and node.args + [k.value for k in node.keywords] and \
                not any(isinstance(a, gast.Starred) for a in node.args) and all(k.arg for k in node.keywords):
            cls = self.outside(node.func)
            if isinstance(cls, type) and stores_arguments(cls, self.tree_of):
                # an object its class builds of the values given (``Params(W - lr * gW, b - lr * gb)``)
                return [(_UNKNOWN, a) for a in node.args] + [(k.arg, k.value) for k in node.keywords]
        through = self.passed_through(node) if depth < 8 else None
        if through is not None:
            return self.items(through, depth + 1)
        if isinstance(node, (gast.List, gast.Tuple)):
            return [(k, e) for k, e in enumerate(node.elts)] if not any(
                isinstance(e, gast.Starred) for e in node.elts) else None
        if isinstance(node, gast.Dict):
            return [(k.value if isinstance(k, gast.Constant) else _UNKNOWN, v) for k, v in zip(node.keys, node.values)] \
                if all(k is not None for k in node.keys) else None
        if isinstance(node, (gast.ListComp, gast.GeneratorExp)):
            return [(_UNKNOWN, node.elt)]
        if isinstance(node, gast.DictComp):
            return [(_UNKNOWN, node.value)]
        if isinstance(node, gast.Call) and not node.args and all(k.arg is not None for k in node.keywords) and \
                self.outside(node.func) is dict:
            return [(k.arg, k.value) for k in node.keywords]
        if isinstance(node, gast.Call) and getattr(self.outside(node.func), "__name__", None) == "dlupdate" and \
                node.args and self.new_function(node.args[0]):
            return [(_UNKNOWN, gast.Constant(value=0.0, kind=None))]      # (each item: what the function makes)
        if isinstance(node, gast.BinOp) and isinstance(node.op, (gast.BitOr, gast.Add)):
            parts = [self.items(o, depth + 1) if depth < 8 else None for o in (node.left, node.right)]
            if any(p is None for p in parts):
                return None
            return parts[0] + parts[1]
        return None

    def reads_item(self, node, key, seen=None) -> bool:
        """Does ``node`` read the parameter's item ``key`` (``(p, k)``), directly (``p[k]``, or ``p``
        other than by another constant key) or through the names of this function it reads (``g =
        dlgradient(loss(p), p)`` reads every item of p)?"""
        seen = set() if seen is None else seen
        if _reads_item(node, key):
            return True
        for n in walk_nodes(node):
            if isinstance(n, gast.Name) and n.id not in self.params and n.id not in seen and n.id in self.bound:
                seen.add(n.id)
                for v in self.bound[n.id]:
                    v = v.value if isinstance(v, _Fill) else v
                    if v is None:
                        return True         # (bound by a loop or an unpacking: not told)
                    if self.reads_item(v, key, seen):
                        return True
        return False

    def new_function(self, node) -> bool:
        """Is ``node`` a lambda (or a name bound once to one) whose value is a new value?"""
        if isinstance(node, gast.Name) and node.id not in self.params:
            node = self.single(node.id)
        return isinstance(node, gast.Lambda) and self.new_value(node.body, 0)

    def leaves(self, items, path=()) -> Optional[list]:
        """(path of keys, expression) of the items, nested displays entered; None where an item is
        neither a new value, a parameter's item by a constant key, nor such a display."""
        out = []
        for key, item in items:
            nested = self.items(item, 0)
            if nested is not None:
                inner = self.leaves(nested, path + (key,))
                if inner is None:
                    return None
                out += inner
            elif _constant_item(item, self.params) is not None or self.new_value(item, 0):
                out.append((path + (key,), item))
            else:
                return None
        return out

    def linking(self, items) -> Optional[frozenset]:
        """The paths of the items that other items may be computed from: a parameter's item that
        another item reads (``{"lr": s["lr"], "p": {k: v - s["lr"] * g[k] ...}}``: linked only where
        that item is a traced array, which the caller's check reads); None where not told."""
        leaves = self.leaves(items)
        if leaves is None:
            return None
        for k, (_, item) in enumerate(leaves):
            # an item that is a local name another item is, or is computed from (``h = np.tanh(w)``
            # returned as ``[h, h * s]`` or ``[h, h]``; was: both new values, read as not linked, so
            # a helper's dlgradient with respect to the list gave h's partial derivative)
            if isinstance(item, gast.Name) and item.id not in self.params and \
                    any(item.id in self.local_reads(o) for j, (_, o) in enumerate(leaves) if j != k):
                return None
        out = set()
        for k, (path, item) in enumerate(leaves):
            key = _constant_item(item, self.params)
            if key is not None and any(self.reads_item(o, key) for j, (_, o) in enumerate(leaves) if j != k):
                if _UNKNOWN in path:
                    return None
                out.add(path)
        return frozenset(out)

    def local_reads(self, node, seen: Optional[set] = None) -> set:
        """The local names ``node`` reads, through the values those bound once are bound to."""
        seen = set() if seen is None else seen
        for n in walk_nodes(node) if node is not None else ():
            if isinstance(n, gast.Name) and n.id not in self.params and n.id not in seen:
                seen.add(n.id)
                self.local_reads(self.single(n.id), seen)
        return seen

    def new_value(self, node, depth: int) -> bool:
        """Is ``node`` a value computed here, never a value given or held elsewhere (a name, an item,
        a call of a function of the user's that may return what it is given)?"""
        if isinstance(node, gast.Constant):
            return True
        if isinstance(node, gast.BinOp) and not isinstance(node.op, (gast.BitOr, gast.Add)) or \
                isinstance(node, gast.UnaryOp):
            return True
        if isinstance(node, gast.BinOp):        # a + b of arrays (not of lists: items() read those)
            return self.items(node, depth) is None
        if isinstance(node, gast.Call):
            if isinstance(node.func, gast.Name) and node.func.id in self.bound:
                return self.new_function(node.func)          # (a lambda of its own: ``sgd(p[k], g[k])``)
            value = self.outside(node.func)
            if getattr(value, "__name__", None) == "dlupdate":
                return False        # (its items are what the function it is given returns)
            if isinstance(value, types.ModuleType):
                return False
            return (module_top(value) or module_top(type(value))) in _MODULES
        if isinstance(node, gast.Name) and node.id not in self.params and depth < 8:
            value = self.single(node.id)
            return value is not None and not isinstance(value, gast.Lambda) and \
                self.items(value, depth + 1) is None and self.new_value(value, depth + 1)
        return False


def _constant_item(node, params):
    """``(p, key)`` where ``node`` is ``p[key]`` or ``p.key`` of a parameter ``p`` and a constant key."""
    if isinstance(node, gast.Subscript) and isinstance(node.value, gast.Name) and node.value.id in params and \
            isinstance(node.slice, gast.Constant):
        return node.value.id, node.slice.value
    if isinstance(node, gast.Attribute) and isinstance(node.value, gast.Name) and node.value.id in params:
        return node.value.id, node.attr
    return None


def _reads_item(node, key) -> bool:
    """Does ``node`` read the item ``key`` (``(p, k)``) of ``p``: ``p[k]``, or ``p`` other than by
    another constant key?"""
    name, k = key
    for n in walk_nodes(node):
        if isinstance(n, gast.Name) and n.id == name:
            return not _only_other_keys(node, name, k)
    return False


def _only_other_keys(node, name, k) -> bool:
    """Is every read of ``name`` in ``node`` an item or attribute by a constant key other than k?"""
    reads = [n for n in walk_nodes(node) if isinstance(n, gast.Name) and n.id == name]
    selected = [n for n in walk_nodes(node)
                if isinstance(n, gast.Subscript) and isinstance(n.value, gast.Name) and n.value.id == name and
                isinstance(n.slice, gast.Constant) and n.slice.value != k or
                isinstance(n, gast.Attribute) and isinstance(n.value, gast.Name) and n.value.id == name and
                n.attr != k]
    return len(selected) == len(reads)


def stores_arguments(cls, tree_of) -> bool:
    """Does building an object of ``cls`` store its arguments as they are, and nothing computed
    from them (a namedtuple; a dataclass with the ``__init__`` it generates and no
    ``__post_init__``; a class whose ``__init__`` only does ``self.a = a``)?  Then its items are
    the arguments, linked where the caller's are."""
    if issubclass(cls, tuple) and hasattr(cls, "_fields"):
        return _generated(getattr(cls, "__new__", None)) and getattr(cls, "__init__", None) is object.__init__
    init = getattr(cls, "__init__", None)
    if dataclasses.is_dataclass(cls) and _generated(init):
        return not hasattr(cls, "__post_init__")
    return isinstance(init, types.FunctionType) and not _generated(init) and _only_stores(init, tree_of)


def _generated(fn) -> bool:
    """Is ``fn`` a function Python's namedtuple or dataclass wrote (no source file)?"""
    code = getattr(fn, "__code__", None)
    return code is not None and code.co_filename == "<string>"


def _only_stores(init, tree_of) -> bool:
    """Is ``init``'s body only ``self.a = b``, each ``b`` a parameter (not ``self``)?"""
    tree = tree_of(init)
    if tree is None or tree.args.vararg is not None or tree.args.kwarg is not None:
        return False
    names = [a.id for a in list(tree.args.posonlyargs) + list(tree.args.args) + list(tree.args.kwonlyargs)
             if isinstance(a, gast.Name)]
    if not names:
        return False
    me = names[0]
    for st in tree.body:
        if isinstance(st, gast.Expr) and isinstance(st.value, gast.Constant):
            continue            # (a docstring)
        if not (isinstance(st, gast.Assign) and len(st.targets) == 1 and isinstance(st.targets[0], gast.Attribute)
                and isinstance(st.targets[0].value, gast.Name) and st.targets[0].value.id == me and
                isinstance(st.value, gast.Name) and st.value.id in names[1:]):
            return False
    return True
