"""Element reads of float64 vectors in scalar specialisation (sct/scalars.py).

An argument whose kind says it is a 1-d float64 array (type ``E`` in ``scalars.Types``) read at
one integer index, ``x[0]``, ``x[-1]``, ``x[i]`` with ``i`` a Python int (a constant, a
``range`` loop's variable, an int argument), gives a numpy float64 in plain numpy: such a
read is a specialised value (``F``), read as a Python float by ``x.item(i)`` (exactly the
element's value).  The rest of the scalar code then runs on Python floats, and the adjoint of
the read, ``rt.index_adjoint(d, x, i)`` / ``rt.index_add(total, d, x, i)``, takes the Python
float as it is (``rt.scalar_index_adjoint`` / ``rt.scalar_index_add``: one float64 buffer per
sweep, the first contribution assigned, the others added in place, as ``rt.index_add``).

Each function reading elements starts with ``x_items = rt.scalar_elements(x)``: ``x`` where
Python floats may stand for numpy's (an exact ndarray, numpy's error state quiet: see
``runtime/scalar_ops.py``), else None, and then each read is
``x_items.item(i) if x_items is not None else x[i]`` (numpy's float64, as unspecialised code).
"""
from __future__ import annotations

import copy
from typing import Optional, Set

import gast
import numpy as np

from .ir import constant_int

E = "E"                # a 1-d float64 array argument, never rebound: its elements read as floats
_INDEX = frozenset(("I", "J", "N"))    # Python ints (None only before a loop's first step)


def element_param(kind) -> bool:
    """Whether an argument of this kind is a plain 1-d float64 array (dlarray or ndarray)."""
    if isinstance(kind, tuple) and len(kind) == 3 and kind[0] in ("dl", "nd") and kind[2] == 1:
        try:
            return np.dtype(kind[1]) == np.float64
        except TypeError:
            return False
    return False


def drop_shared(owner, ptypes) -> None:
    """No ``E`` arguments where generated functions share statements or calls (the forward
    recomputed by a sweep that is differentiated again, ``rt.vjp_at``): the rewrite changes them
    in place, and ``x_items`` is bound in the function that reads it only."""
    if not any(t == {E} for t in ptypes.values()):
        return
    seen: dict = {}
    for f in owner.functions:
        for node in owner.nodes(f):
            if isinstance(node, (gast.stmt, gast.Call)) and seen.setdefault(id(node), f) is not f:
                for p, t in ptypes.items():
                    if t == {E}:
                        ptypes[p] = {"O"}
                return


def reads_elements(types, ptypes) -> bool:
    """Whether specialising is worth it where the only arguments it knows are ``E`` ones: some
    value of the entry is a specialised float (an element read, or computed from one)."""
    if any(t == {"A"} for t in ptypes.values()):
        return True
    return any(types.spec(n) for n in types.types)


def _int_index(types, index) -> bool:
    if isinstance(index, gast.Constant):
        return type(index.value) is int
    if isinstance(index, gast.UnaryOp) and isinstance(index.op, gast.USub):
        return isinstance(index.operand, gast.Constant) and type(index.operand.value) is int
    if isinstance(index, gast.Name):
        t = types.name(index.id)
        return bool(t) and t <= _INDEX and bool(t & {"I", "J"})
    return False


def element_source(types, e) -> Optional[str]:
    """The argument ``e`` reads one element of (``x`` of ``x[i]``), or None."""
    if isinstance(e, gast.Subscript) and isinstance(e.value, gast.Name) and isinstance(e.ctx, gast.Load):
        name = e.value.id
        if name not in types.forced and types.params.get(name) == {E} and types.types.get(name) == {E} and \
                _int_index(types, e.slice):
            return name
    return None


def element_type(types, e) -> Set[str]:
    """The type (scalars.Types) of a subscript: F for an element read, else O."""
    return {"F"} if element_source(types, e) is not None else {"O"}


def _name(name, ctx=None):
    return gast.Name(id=name, ctx=ctx or gast.Load(), annotation=None, type_comment=None)


def element_read(rw, e):
    """``x[i]`` in specialised code: ``x_items.item(i) if x_items is not None else x[i]``."""
    name = element_source(rw.t, e)
    if name is None:
        return e
    items = rw.elements.get(name)
    if items is None:
        items = rw.elements[name] = rw.o.fresh(name + "_items")
    read = gast.Call(func=gast.Attribute(value=_name(items), attr="item", ctx=gast.Load()),
                     args=[copy.deepcopy(e.slice)], keywords=[])
    test = gast.Compare(left=_name(items), ops=[gast.IsNot()], comparators=[gast.Constant(value=None, kind=None)])
    return gast.IfExp(test=test, body=read, orelse=e)


def element_adjoint(rw, node) -> Optional[int]:
    """``rt.index_adjoint(d, x, i)`` / ``rt.index_add(total, d, x, i)`` with ``d`` a specialised
    name and ``x`` an ``E`` argument: renamed to the ``scalar_`` forms, ``d`` left a float.
    Returns the position of ``d`` where it did (the caller then visits the other arguments), else None."""
    f = node.func
    if not (isinstance(f, gast.Attribute) and isinstance(f.value, gast.Name) and f.value.id == rw.rt and
            f.attr in ("index_adjoint", "index_add") and not node.keywords):
        return None
    k = 0 if f.attr == "index_adjoint" else 1
    if len(node.args) != k + 3:
        return None
    grad, x = node.args[k], node.args[k + 1]
    if not (isinstance(grad, gast.Name) and isinstance(x, gast.Name)) or not rw.t.spec(grad.id) or \
            "C" in rw.t.types[grad.id] or rw.t.params.get(x.id) != {E} or x.id in rw.t.forced:
        return None
    f.attr = "scalar_" + f.attr
    return k


def _is_rt_call(node, rt_name, *attrs) -> bool:
    return isinstance(node, gast.Call) and isinstance(node.func, gast.Attribute) and \
        node.func.attr in attrs and isinstance(node.func.value, gast.Name) and node.func.value.id == rt_name


def _own_projects(rw) -> None:
    """``rt.project(d, x)`` of an ``E`` argument ``x`` where every value ``d`` is given in the
    function is ``rt.ZERO``, ``rt.scalar_index_adjoint(g, x, i)`` or ``rt.scalar_index_add(d, g, x, i)``
    (a float64 buffer shaped like ``x`` or the zero marker): ``rt.scalar_elements_project(d, x)``,
    and those adds ``rt.scalar_index_add_own`` (no check of the buffer's shape and dtype)."""
    stores: dict = {}
    for node in gast.walk(rw.fn):
        if isinstance(node, gast.Assign):
            for t in node.targets:
                for n in gast.walk(t):
                    if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store):
                        stores.setdefault(n.id, []).append(node.value if len(node.targets) == 1 and t is n else None)
        elif isinstance(node, gast.Name) and isinstance(node.ctx, (gast.Store, gast.Del)):
            stores.setdefault(node.id, [])
    params = {a.id for a in rw.fn.args.args} | {a.id for a in rw.fn.args.kwonlyargs} | \
        {a.id for a in rw.fn.args.posonlyargs}

    def own(d, x) -> bool:
        values = stores.get(d)
        if not values or d in params or any(a.id == d for a in (rw.fn.args.vararg, rw.fn.args.kwarg) if a):
            return False
        for v in values:
            if v is None:
                return False
            if isinstance(v, gast.Attribute) and isinstance(v.value, gast.Name) and v.value.id == rw.rt and \
                    v.attr == "ZERO":
                continue
            if _is_rt_call(v, rw.rt, "scalar_index_adjoint") and len(v.args) == 3 and \
                    isinstance(v.args[1], gast.Name) and v.args[1].id == x:
                continue
            if _is_rt_call(v, rw.rt, "scalar_index_add") and len(v.args) == 4 and \
                    isinstance(v.args[0], gast.Name) and v.args[0].id == d and \
                    isinstance(v.args[2], gast.Name) and v.args[2].id == x:
                continue
            return False
        return True

    for node in gast.walk(rw.fn):
        if _is_rt_call(node, rw.rt, "project") and len(node.args) == 2 and not node.keywords and \
                all(isinstance(a, gast.Name) for a in node.args) and rw.t.params.get(node.args[1].id) == {E} and \
                node.args[1].id not in stores and own(node.args[0].id, node.args[1].id):
            node.func.attr = "scalar_elements_project"
            d, x = node.args[0].id, node.args[1].id
            for v in stores[d]:
                if _is_rt_call(v, rw.rt, "scalar_index_add"):
                    v.func.attr = "scalar_index_add_own"      # its total: a buffer of x's shape


def _blocks(stmts):
    yield stmts
    for s in stmts:
        for field in ("body", "orelse"):
            inner = getattr(s, field, None)
            if isinstance(inner, list) and inner and not isinstance(s, gast.FunctionDef):
                yield from _blocks(inner)


def _gathered_gradients(rw) -> None:
    """``rt.scalar_elements_project(d, x)`` (a statement's value, or an element of the tuple it
    is) where ``d`` is built, in the same block and nowhere else, by ``rt.scalar_index_adjoint``
    then ``rt.scalar_index_add_own`` steps of Python-float adjoints (types F, P: never the zero
    marker or None) at constant indices covering 0..k-1 (or -k..-1):
    ``d = rt.scalar_elements_gradient(x, first, (e_0, ..., e_k-1))`` just before that statement,
    which reads ``d``, the steps removed.  ``e_i``, the element ``first + i`` as the steps left it:
    its adjoints added in the steps' order, ``0.0 + ...`` first but for the element the first
    step assigned (the buffer's zero: ``-0.0`` stays only there), so ``np.array`` of them (where
    ``x`` has k elements) holds the same numbers.  Only where no statement between the first
    step and that statement rebinds an adjoint it gathers, and nothing else reads ``d``."""
    fn = rw.fn
    params = {a.id for a in fn.args.args}
    loads: dict = {}
    stores: dict = {}
    for node in gast.walk(fn):
        if isinstance(node, gast.Name) and not isinstance(node.ctx, gast.Param):
            (loads if isinstance(node.ctx, gast.Load) else stores).setdefault(node.id, []).append(node)

    def step(s, d, x):
        """(index, adjoint name) of a step building ``d`` on ``x``, else None."""
        if not (isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], gast.Name) and
                s.targets[0].id == d):
            return None
        v = s.value
        if _is_rt_call(v, rw.rt, "scalar_index_adjoint") and len(v.args) == 3 and not v.keywords:
            g, xx, i = v.args
        elif _is_rt_call(v, rw.rt, "scalar_index_add_own") and len(v.args) == 4 and not v.keywords and \
                isinstance(v.args[0], gast.Name) and v.args[0].id == d:
            g, xx, i = v.args[1:]
        else:
            return None
        if not (isinstance(xx, gast.Name) and xx.id == x and isinstance(g, gast.Name)):
            return None
        k = constant_int(i)
        t = rw.t.types.get(g.id)
        if k is None or not t or not t <= {"F", "P"} or g.id in rw.t.forced or g.id == d:
            return None
        return k, g.id

    def gather(block, j, value):
        """The assignment standing for ``value`` (a project call of the statement ``block[j]``)
        and the chain's positions in ``block``, or None."""
        if not (_is_rt_call(value, rw.rt, "scalar_elements_project") and len(value.args) == 2 and
                not value.keywords and all(isinstance(a, gast.Name) for a in value.args)):
            return None
        d, x = value.args[0].id, value.args[1].id
        if d in params or x not in params or x in stores:
            return None
        chain, steps = [], []
        for m in range(j - 1, -1, -1):
            got = step(block[m], d, x)
            if got is not None:
                chain.append(m)
                steps.append(got)
                if _is_rt_call(block[m].value, rw.rt, "scalar_index_adjoint"):
                    break
        if not chain or not _is_rt_call(block[chain[-1]].value, rw.rt, "scalar_index_adjoint"):
            return None
        # every store of d is a step, every load of d one of theirs or the project's
        if len(stores.get(d, ())) != len(chain) or len(loads.get(d, ())) != len(chain):
            return None
        steps.reverse()                       # in the order they run; steps[0] assigns
        found: dict = {}
        for k, g in steps:
            found.setdefault(k, []).append(g)
        n = len(found)
        if set(found) == set(range(n)):
            first = 0
        elif set(found) == set(range(-n, 0)):
            first = -n
        else:
            return None
        for m, (_, g) in zip(reversed(chain), steps):     # each adjoint as its step read it
            if any(isinstance(node, gast.Name) and node.id == g and not isinstance(node.ctx, gast.Load)
                   for b in block[m + 1:j] for node in gast.walk(b)):
                return None
        elements = []
        for i in range(first, first + n):
            e = None if i == steps[0][0] else gast.Constant(value=0.0, kind=None)
            for g in found[i]:
                e = _name(g) if e is None else gast.BinOp(left=e, op=gast.Add(), right=_name(g))
            elements.append(e)
        value.func.attr = "scalar_elements_gradient"
        value.args = [_name(x), gast.Constant(value=first, kind=None),
                      gast.Tuple(elts=elements, ctx=gast.Load())]
        return gast.Assign(targets=[_name(d, gast.Store())], value=value, type_comment=None), d, chain

    for block in list(_blocks(fn.body)):
        for s in list(block):
            if not isinstance(s, (gast.Assign, gast.Return)) or s.value is None:
                continue
            j = next(m for m, b in enumerate(block) if b is s)     # (steps before it removed)
            if isinstance(s.value, gast.Tuple):
                places = [(s.value.elts, i) for i in range(len(s.value.elts))]
            else:
                places = [(s, "value")]
            for holder, where in places:
                value = holder[where] if isinstance(where, int) else s.value
                made = gather(block, j, value)
                if made is None:
                    continue
                assign, d, chain = made
                if isinstance(where, int):
                    holder[where] = _name(d)
                else:
                    s.value = _name(d)
                block.insert(j, assign)
                for m in sorted(chain, reverse=True):
                    del block[m]
                j = next(m for m, b in enumerate(block) if b is s)


def element_heads(rw) -> list:
    """``x_items = rt.scalar_elements(x)`` for each argument whose elements ``rw`` reads (and the
    gradients of such arguments built from their elements' adjoints, ``_own_projects``,
    ``_gathered_gradients``)."""
    _own_projects(rw)
    _gathered_gradients(rw)
    heads = []
    for a in rw.fn.args.args:
        items = rw.elements.get(a.id)
        if items is not None:
            value = gast.Call(func=gast.Attribute(value=_name(rw.rt), attr="scalar_elements", ctx=gast.Load()),
                              args=[_name(a.id)], keywords=[])
            heads.append(gast.Assign(targets=[_name(items, gast.Store())], value=value, type_comment=None))
    return heads
