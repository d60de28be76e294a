"""Adjoint statements whose value no gradient reads (issue 8: speed of generated code).

A sweep computes the adjoint of every active value its activity analysis says depends on what it
differentiates with respect to; that analysis is flow-insensitive, so a value read *before* a write
that makes its container depend on a target counts as depending on it too.  ``state["rnn"]["h"] = h``
after ``h = np.tanh(x @ W + state["rnn"]["h"] @ U)`` made ``state`` (and every read of it) active,
and the sweep of ``dlgradient(loss, p)`` computed ``d_h_t = h_t's adjoint`` (a whole matmul),
``d_state_item`` and ``d_state`` (index adjoints), which nothing returned.  The reverse liveness here
removes them: backwards from the sweep's ``return``, an assignment of an *adjoint name* (one the sweep
generator made: ``Generated.adjoint_names``) whose value nothing after it reads is dropped where the
value is an expression of sct's own pure helpers (``_adjoint_pure``).  A removed statement's reads are
then dead too, and so on up (one backward walk; a fixed point at each loop).

What is never removed: any statement that is not such an assignment (pops of the tape, guards, the
user's own code a self-contained sweep recomputes, calls of a helper's adjoint, captures), and an
assignment whose value calls anything not listed in ``PURE_ADJOINT_RT`` / ``optimize._PURE_NP_CALLS``
(or passes numpy an ``out=``).  Those keep everything they read live.  A ``del`` keeps its name live.
An ``if`` left with no statement is dropped where its test is a name or an ``is``/``is not``
comparison of names and ``rt.ZERO``.

Generated code only, and only the sweeps that are not self-contained and helpers' adjoints (a
self-contained sweep is differentiated again: left as it was).  Switched off with the rest of the
optimiser (``SCT_OPTIMIZE=0``).  The tape entries whose pops nothing reads any more are then kept as
shape proxies (``optimize.shape_only_tapes``: a pop read by nothing is read only for its shape) and
the residuals no sweep reads are no longer passed (``optimize.unread_parameters``).
"""
from __future__ import annotations

from typing import Any, Dict, FrozenSet, List, Optional, Set, Tuple

import gast

from .ir import tree_changed, walk_nodes
from .ir import is_comment as _is_comment, loop_jumps as _jumps, padded_block as _block

#: Runtime helpers an adjoint statement may call and still be removed where its value is dead: each
#: reads its arguments and writes none of them, keeps no state that any later call reads (a memo of
#: shapes at most), runs no user code but numpy's protocols on the values (``np.shape``, ``__array__``)
#: and raises nothing for operands a sweep passes them except where the derivative itself cannot be
#: computed (``index_adjoint``'s refusal of a user object's ``__getitem__`` or a structured array):
#: a derivative the removed statement alone would have computed, which no gradient reads.  Read in
#: runtime/support.py and runtime/numpy_ops.py.  Not listed (kept): the in-place writers
#: (``index_add``, ``*_owned``, ``into_temporary``, ``negative_into``, cse._MUTATING_RT), the helpers
#: that note facts for a later check (``where_branch``'s and others' notes that ``project`` reads),
#: every check and guard, and every call of a helper's adjoint (``layer_bwd(...)``).
PURE_ADJOINT_RT = frozenset({
    "unbroadcast", "unbroadcast_product", "reduction_broadcast", "reduction_sum",
    "broadcast_product", "concat_head", "concat_tail",
    "matmul_adjoint_a", "matmul_adjoint_b", "matmul_adjoint_2d_a", "matmul_adjoint_2d_b",
    "index_adjoint", "add_grad", "add_index_grad",
    "tie_weights", "tie_scaled", "extremum_weights", "extremum_scaled",
    "reduction_times", "reduction_times_like", "shift_free_max",
    "getitem_or_zero", "getattr_or_zero", "drop_attribute", "attribute_adjoint", "item_adjoint",
    "zero_adjoint", "shape_proxy",
})
_UNFOLLOWED = (gast.FunctionDef, gast.AsyncFunctionDef, gast.ClassDef, gast.Lambda, gast.Yield, gast.YieldFrom,
               gast.Await, gast.NamedExpr, gast.Global, gast.Nonlocal)
#: Runtime constants an adjoint may hold.
_RT_CONSTANTS = frozenset({"ZERO"})
_ATTRIBUTES = frozenset({"shape", "dtype", "ndim", "size", "T", "real", "imag"})


def adjoint_pure(node, rt_name: str, np_name: str, np_calls: FrozenSet[str]) -> bool:
    """Effect-free where sct generated ``node`` as an adjoint's value (on arrays, numbers, sct's
    own adjoint containers): names, constants, displays, arithmetic, comparisons, subscripts,
    array attributes, and calls of ``PURE_ADJOINT_RT`` and of numpy's ``np_calls`` without ``out=``."""
    def pure(n) -> bool:
        if n is None or isinstance(n, gast.Constant):
            return True
        if isinstance(n, gast.Name):
            return isinstance(n.ctx, gast.Load)
        if isinstance(n, (gast.Tuple, gast.List)):
            return all(pure(e) for e in n.elts)
        if isinstance(n, gast.BinOp):
            return pure(n.left) and pure(n.right)
        if isinstance(n, gast.UnaryOp):
            return pure(n.operand)
        if isinstance(n, gast.BoolOp):
            return all(pure(v) for v in n.values)
        if isinstance(n, gast.Compare):
            return pure(n.left) and all(pure(c) for c in n.comparators)
        if isinstance(n, gast.IfExp):
            return pure(n.test) and pure(n.body) and pure(n.orelse)
        if isinstance(n, gast.Slice):
            return pure(n.lower) and pure(n.upper) and pure(n.step)
        if isinstance(n, gast.Subscript):
            return pure(n.value) and pure(n.slice)
        if isinstance(n, gast.Attribute):
            if isinstance(n.value, gast.Name) and n.value.id == rt_name:
                return n.attr in _RT_CONSTANTS
            return n.attr in _ATTRIBUTES and pure(n.value)
        if isinstance(n, gast.Call):
            func = n.func
            if not (isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name)):
                return False
            if func.value.id == rt_name:
                ok = func.attr in PURE_ADJOINT_RT
            elif func.value.id == np_name:
                ok = func.attr in np_calls and all(k.arg not in (None, "out") for k in n.keywords)
            else:
                return False
            return ok and all(pure(a) for a in n.args) and all(pure(k.value) for k in n.keywords)
        return False
    return pure(node)


def _reads(node) -> Set[str]:
    """Names ``node`` reads, a ``del`` counted as a read (its name must stay bound)."""
    return {n.id for n in walk_nodes(node) if isinstance(n, gast.Name) and isinstance(n.ctx, (gast.Load, gast.Del))}


def _real(stmts: List) -> bool:
    """Whether ``stmts`` holds a statement that does something (not a comment, not ``pass``)."""
    return any(not _is_comment(s) and not isinstance(s, gast.Pass) for s in stmts)


#: What is live of a name: the whole value (ALL), or only these keys of a dict's adjoint (a frozenset).
ALL = "all"
Live = Dict[str, Any]


def _add(live: Live, name: str, fields) -> None:
    """``name``'s ``fields`` (ALL or keys) made live in ``live`` (changed in place)."""
    known = live.get(name)
    live[name] = fields if known is None else ALL if ALL in (fields, known) else known | fields


def _join(a: Live, b: Live) -> Live:
    out = dict(a)
    for n, f in b.items():
        _add(out, n, f)
    return out


def _all(live: Live, names) -> Live:
    """``names`` made wholly live in ``live`` (changed in place, and returned)."""
    for n in names:
        live[n] = ALL
    return live


class _Liveness:
    """The backward walk of one function (``remove_dead_adjoints``): which names, and of the adjoints
    of the dict parameters ``maps``, which of their keys, a later statement reads."""

    def __init__(self, adjoints: FrozenSet[str], rt_name: str, np_name: str, np_calls: FrozenSet[str],
                 maps: FrozenSet[str] = frozenset()):
        self.adjoints = adjoints
        self.rt_name = rt_name
        self.np_name = np_name
        self.np_calls = np_calls
        self.maps = maps
        self.removed = 0
        self.rewrote = False            # a keyed store left out (``D = rt.ZERO``, ``D = D2``)

    def reads(self, node) -> Set[str]:
        """The adjoint names ``node`` reads (a ``del`` counted): the only names whose liveness
        matters here (what else a statement reads is never removed)."""
        adjoints = self.adjoints
        return {n for n in _reads(node) if n in adjoints}

    def removable(self, s) -> Optional[Set[str]]:
        """The adjoint names ``s`` assigns where it is an assignment that may be removed, else None."""
        if not isinstance(s, gast.Assign) or len(s.targets) != 1:
            return None
        t = s.targets[0]
        names = [t] if isinstance(t, gast.Name) else t.elts if isinstance(t, gast.Tuple) else None
        if not names or not all(isinstance(e, gast.Name) and e.id in self.adjoints for e in names):
            return None
        if not adjoint_pure(s.value, self.rt_name, self.np_name, self.np_calls):
            return None
        return {e.id for e in names}

    def _rt(self, node, attr: str, nargs: int) -> bool:
        return isinstance(node, gast.Call) and isinstance(node.func, gast.Attribute) and node.func.attr == attr and \
            isinstance(node.func.value, gast.Name) and node.func.value.id == self.rt_name and \
            len(node.args) == nargs and not node.keywords

    def _keyed(self, node, attr: str):
        """``(grad, key)`` of ``rt.<attr>(grad, P, "key")`` with ``P`` one of ``maps``, else None."""
        if self._rt(node, attr, 3):
            base, key = node.args[1], node.args[2]
            if isinstance(base, gast.Name) and base.id in self.maps and isinstance(key, gast.Constant) and \
                    type(key.value) is str:
                return node.args[0], key.value
        return None

    def keyed_store(self, s):
        """``(D, D2 or None, key)`` for ``D = rt.index_adjoint(g, P, "key")`` (D2 None) or
        ``D = rt.add_grad(D2, rt.index_adjoint(g, P, "key"))`` (``P`` a dict: its adjoint is the dict
        ``{"key": g}``, added key by key), D and D2 adjoint names, of a statement ``removable``
        found removable; else None."""
        if not self.maps or not isinstance(s.targets[0], gast.Name):
            return None
        value, before = s.value, None
        if self._rt(value, "add_grad", 2) and isinstance(value.args[0], gast.Name) and \
                value.args[0].id in self.adjoints:
            before, value = value.args[0].id, value.args[1]
        found = self._keyed(value, "index_adjoint")
        return None if found is None else (s.targets[0].id, before, found[1])

    def returned(self, ret: gast.Return) -> Live:
        """What a return reads: of ``rt.select_item(D, P, "key")`` (``P`` a dict), D's key only."""
        keyed: Dict[int, str] = {}
        live: Live = {}
        for n in walk_nodes(ret):
            found = self._keyed(n, "select_item")
            if found is not None and isinstance(found[0], gast.Name):
                keyed[id(found[0])] = found[1]
        for n in walk_nodes(ret):
            if isinstance(n, gast.Name) and isinstance(n.ctx, (gast.Load, gast.Del)) and n.id in self.adjoints:
                key = keyed.get(id(n))
                live = _join(live, {n.id: ALL if key is None else frozenset((key,))})
        return live

    def droppable_test(self, test) -> bool:
        """An ``if``'s test that reads names only (``cond_taken``, ``d is not rt.ZERO``)."""
        if isinstance(test, gast.Name):
            return True
        if isinstance(test, gast.UnaryOp) and isinstance(test.op, gast.Not):
            return self.droppable_test(test.operand)
        if isinstance(test, gast.Compare):
            return all(isinstance(op, (gast.Is, gast.IsNot)) for op in test.ops) and \
                all(isinstance(v, gast.Name) or (isinstance(v, gast.Attribute) and isinstance(v.value, gast.Name)
                                                 and v.value.id == self.rt_name and v.attr in _RT_CONSTANTS)
                    for v in [test.left] + test.comparators)
        return False

    def keyed(self, s, keyed, live: Live, apply: bool):
        """A keyed store whose key no later read selects: the statement left (``live``, what is live
        after it, becomes what is live before it), None where it goes.  ``D = rt.index_adjoint(g, P,
        "k")`` becomes ``D = rt.ZERO``, ``D = rt.add_grad(D2, ...)`` becomes ``D = D2`` (nothing where
        D2 is D): for every key read
        later, ``{"k": g}.get(key)`` and ``add_grad(D2, {"k": g}).get(key)`` are what the zero marker
        and D2 give (``rt.select_item`` of the zero marker is the marker)."""
        target, before, _ = keyed
        fields = live.pop(target)
        if before == target:
            live[target] = fields
            return None
        if apply:
            s.value = _rt_constant(self.rt_name, "ZERO") if before is None else \
                gast.Name(id=before, ctx=gast.Load(), annotation=None, type_comment=None)
        if before is not None:
            _add(live, before, fields)
        return s

    def block(self, stmts: List, live: Live, apply: bool):
        """(the statements kept, what is live before them), given what is live after them."""
        live = dict(live)
        out: List = []
        dropped_since = False           # a statement after the last kept one was removed
        for s in reversed(stmts):
            if _is_comment(s):
                # a line's comment whose statements are all gone (up to the next kept one: another
                # line's comment, the return, the end) goes with them
                if dropped_since and (not out or _is_comment(out[-1]) or isinstance(out[-1], gast.Return)):
                    if apply:
                        self.removed += 1
                    continue
                out.append(s)
                continue
            names = self.removable(s)
            if names is not None:
                if not any(n in live for n in names):
                    dropped_since = True
                    if apply:
                        self.removed += 1
                    continue
                keyed = self.keyed_store(s)
                fields = live.get(keyed[0]) if keyed is not None else None
                if keyed is not None and fields is not ALL and keyed[2] not in fields:
                    if apply:
                        self.removed += 1
                        self.rewrote = True
                    if self.keyed(s, keyed, live, apply) is None:
                        dropped_since = True
                        continue
                elif keyed is not None and keyed[1] is not None and \
                        sum(isinstance(n, gast.Name) and n.id == keyed[1] for n in walk_nodes(s.value)) == 1:
                    fields = live.pop(keyed[0])         # D = add_grad(D2, ...): D2's keys are D's
                    _add(_all(live, self.reads(s.value) - {keyed[1]}), keyed[1], fields)
                elif isinstance(s.value, gast.Name) and isinstance(s.targets[0], gast.Name):
                    fields = live.pop(s.targets[0].id)          # D = D2: an alias, read as D is
                    _add(live, s.value.id, fields)
                else:
                    for n in names:
                        live.pop(n, None)
                    _all(live, self.reads(s.value))
            elif isinstance(s, gast.Return):
                live = self.returned(s)             # (a new dict)
            elif isinstance(s, gast.If):
                body, live_body = self.block(s.body, live, apply)
                orelse, live_else = self.block(s.orelse, live, apply)
                if not _real(body) and not _real(orelse) and self.droppable_test(s.test):
                    dropped_since = True
                    if apply:
                        self.removed += 1
                    continue
                if apply:
                    s.body = _block(body)
                    s.orelse = orelse if _real(orelse) else []
                live = _all(_join(live_body, live_else), self.reads(s.test))    # (a new dict)
            elif isinstance(s, (gast.For, gast.While)) and not _jumps(s.body) and not s.orelse:
                live = self.loop(s, live, apply)
            else:                       # effects, with, try, jumps: everything it reads
                _all(live, self.reads(s))
            dropped_since = False
            out.append(s)
        out.reverse()
        return out, live

    def loop(self, s, live: Live, apply: bool) -> Live:
        """What is live at the head of loop ``s`` (a fixed point), given what is live after it."""
        header = self.reads(s.iter if isinstance(s, gast.For) else s.test)
        killed = {n.id for n in walk_nodes(s.target) if isinstance(n, gast.Name)} if isinstance(s, gast.For) else set()
        head = _all(dict(live), header)
        while True:
            _, inner = self.block(s.body, head, False)
            new = _all(_join(live, {n: f for n, f in inner.items() if n not in killed}), header)
            if new == head:
                break
            head = new
        if apply:
            body, _ = self.block(s.body, head, True)
            s.body = _block(body)
        return head


def _rt_constant(rt_name: str, attr: str):
    return gast.Attribute(value=gast.Name(id=rt_name, ctx=gast.Load(), annotation=None, type_comment=None),
                          attr=attr, ctx=gast.Load())


def remove_dead_adjoints(fn: gast.FunctionDef, adjoints: FrozenSet[str], rt_name: str,
                         np_name: str = "np", np_calls: FrozenSet[str] = frozenset(),
                         maps: FrozenSet[str] = frozenset()) -> Tuple[int, bool]:
    """Remove from ``fn`` (a sweep or a helper's adjoint, with no statement that reads the frame's
    names: ``optimize._has_scope_statements``, which its caller tests) the assignments of the
    adjoint names ``adjoints`` whose values nothing after them reads (see the module's docstring);
    ``np_calls``: the numpy functions without effects (``optimize._PURE_NP_CALLS``); ``maps``: the
    parameters known to hold a dict (``Generated.dict_params``; those ``fn`` binds are left out).
    Returns how many statements it removed or changed (comments and emptied ``if`` statements
    included), and whether it left a key's adjoint out (``D = rt.ZERO``, ``D = D2``: the zero facts
    may then know more)."""
    if not adjoints or not fn.body or not isinstance(fn.body[-1], gast.Return):
        return 0, False
    bound: Set[str] = set()
    for n in walk_nodes(fn):        # (one walk: the function's own node first)
        if isinstance(n, _UNFOLLOWED) and n is not fn:
            return 0, False         # names read or bound where this walk does not look
        if n.__class__ is gast.Name and n.ctx.__class__ in (gast.Store, gast.Del):
            bound.add(n.id)
    params = {a.id for a in fn.args.args}
    walk = _Liveness(adjoints, rt_name, np_name, np_calls,
                     frozenset(m for m in maps if m in params and m not in bound))
    body, _ = walk.block(fn.body, {}, True)
    if walk.removed:
        fn.body = _block(body)
        tree_changed(fn)
    return walk.removed, walk.rewrote
