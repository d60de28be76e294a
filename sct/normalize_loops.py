"""Normalization of loops and comprehensions: ``for`` over ``range`` kept, any other iterable
(``enumerate``, ``zip``, ``reversed``, lists, dicts, arrays) walked by position; ``while`` with its
test evaluated into a name; list, generator and dict comprehensions written as loops in a scope of
their own.  A mixin of ``sct.normalize.Normalizer`` (it reads the shared state there: ``namer``,
``line``, ``computed``, ``rt_name``, and calls ``emit``, ``block``, ``atom``, ``assign_to``,
``store_into``, ``fail``)."""
from __future__ import annotations

import builtins
import copy
from typing import Dict, List, Optional, Tuple

import gast

from .ir import assign, call, const, dotted_name, load, node_key, store, walk_nodes


class Loops:
    """``for``, ``while`` and comprehensions, lowered to the core language's loops."""

    def for_loop(self, s: gast.For, out: List):
        if s.orelse:       # (lower_loop_else rewrote them before)
            self.fail(s, "for ... else" if isinstance(s, gast.For) else "while ... else",
                      "set a flag in the loop and test it after")
        resized = _resized_walk(s, self._builtin_named, getattr(self, "fdef", None))
        s, check = _items_by_key(s, self.rt_name, self.namer)
        if check is None:
            s, check = _rows_by_position(s, self.rt_name, self._builtin_named)
        if check is not None:
            self.block([check], out)
        it = s.iter
        body: List = []
        if isinstance(it, gast.Call) and isinstance(it.func, gast.Name) and it.func.id == "range" \
                and not it.keywords:
            args = [self.atom(a, out, hint="n") for a in it.args]
            target = s.target
            if not isinstance(target, gast.Name):
                self.fail(s, "unpacking a range item", "use a single loop variable")
            loop = gast.For(target=store(target.id), iter=call("range", args), body=body,
                            orelse=[], type_comment=None)
            self.emit(out, loop)
            self.block(s.body, body)
            return
        # Any other iterable is walked by position, so each item is an indexing
        # operation the compiler knows the adjoint of.
        sequences: List[Tuple[gast.AST, gast.AST]] = []
        lengths: List[gast.AST] = []
        index_targets: List[gast.AST] = []
        self.walked(it, s.target, out, sequences, lengths, index_targets)
        length = lengths[0] if len(lengths) == 1 else self.atom(call("min", lengths), out, hint="n")
        index_target = index_targets[0] if index_targets else None
        if index_target is not None and isinstance(index_target, gast.Name):
            index = index_target.id
            index_targets = index_targets[1:]
        else:
            index = self.namer.fresh("k")
        for target in index_targets:           # enumerate nested in zip / enumerate: the same position
            position = load(index)
            if isinstance(target, tuple):      # enumerate(..., start)
                target, start = target
                position = gast.BinOp(left=position, op=gast.Add(), right=start)
            if isinstance(target, gast.Name):
                self.emit(body, assign(target.id, position))
            else:
                self.store_into(target, self.atom(position, body, hint="i"), body)
        size = None
        if resized is not None and getattr(s, "sct_readds_own", False):
            self.fail(s, "a for loop over a dict whose body removes the key it is at and stores it again "
                         "(d[k] = d.pop(k)...)",
                      "Python's iterator meets the key again at the dict's end and raises RuntimeError "
                      "('dictionary keys changed during iteration'); loop over a copy of the keys "
                      "(for k in list(d)), or build a new dict")
        if resized is not None:
            # a dict whose size the body may change: Python's RuntimeError at the next item or the end
            size = self.atom(call(f"{self.rt_name}.walk_size", [_walked_dict(resized)]), out, hint="n")
            now = load(resized) if isinstance(resized, str) else \
                self.atom(_walked_dict(resized), body, hint="walked")    # (d["a"]: read again at each item)
            self.emit(body, gast.Expr(value=call(f"{self.rt_name}.walk_size_kept",
                                                 [now, size, load(index)])))
        loop = gast.For(target=store(index), iter=call("range", [length]), body=body,
                        orelse=[], type_comment=None)
        self.emit(out, loop)
        for target, seq in sequences:
            item = gast.Subscript(value=seq, slice=load(index), ctx=gast.Load())
            if isinstance(target, gast.Name):
                self.emit(body, assign(target.id, item))
            else:
                tmp = self.atom(item, body, hint="item")
                self.store_into(target, tmp, body)
        self.block(s.body, body)
        closing = s.body[-1] if s.body else None
        if size is not None:
            # after the last item (not after a break: the flag of the closing ``if stop: break``)
            stopped = closing.test.id if isinstance(closing, gast.If) and isinstance(closing.test, gast.Name) \
                and len(closing.body) == 1 and isinstance(closing.body[0], gast.Break) and not closing.orelse \
                else None
            breaks = [n for stmt in s.body for n in _loop_level(stmt) if isinstance(n, gast.Break)]
            if stopped is not None or not breaks:
                done = const(True) if stopped is None else gast.UnaryOp(op=gast.Not(), operand=load(stopped))
                after = gast.Expr(value=call(f"{self.rt_name}.walk_size_kept", [_walked_dict(resized), size, done]))
                for n in gast.walk(after):
                    if isinstance(n, (gast.stmt, gast.expr)):
                        n.lineno = s.lineno
                self.block([after], out)
        held = _held_iterables(it)
        if held and isinstance(closing, gast.If) and isinstance(closing.test, gast.Name) and \
                len(closing.body) == 1 and isinstance(closing.body[0], gast.Break) and not closing.orelse:
            # a loop that may stop early over an iterator the function holds (`for b in it: ... break`,
            # then `list(it)`): sct took every item before the body ran, Python leaves the rest in the
            # iterator; refused when it stops before the last item (was: the rest silently gone)
            check = gast.If(test=load(closing.test.id), body=[gast.Expr(value=call(
                f"{self.rt_name}.loop_left", [gast.Tuple(elts=[copy.deepcopy(h) for h in held], ctx=gast.Load()),
                                              length, load(index)]))], orelse=[])
            for n in gast.walk(check):
                if isinstance(n, (gast.stmt, gast.expr)):
                    n.lineno = s.lineno
            self.block([check], out)

    def walked(self, it, target, out: List, sequences: List, lengths: List, index_targets: List):
        """The sequences a for loop over ``it`` walks by position, with their targets: enumerate
        and zip (nested in each other too) are taken apart; any other iterable is one sequence."""
        if self._builtin_named(it, "enumerate") and len(it.args) == 1 and not it.keywords and \
                isinstance(target, gast.Tuple) and len(target.elts) == 2:
            index_targets.append(target.elts[0])
            self.walked(it.args[0], target.elts[1], out, sequences, lengths, index_targets)
        elif self._builtin_named(it, "enumerate") and isinstance(target, gast.Tuple) and len(target.elts) == 2 \
                and len(it.args) + len(it.keywords) == 2 and len(it.args) >= 1 and \
                all(k.arg == "start" for k in it.keywords):
            start = self.atom(it.args[1] if len(it.args) == 2 else it.keywords[0].value, out, hint="start")
            index_targets.append((target.elts[0], start))
            self.walked(it.args[0], target.elts[1], out, sequences, lengths, index_targets)
        elif self._builtin_named(it, "reversed") and len(it.args) == 1 and not it.keywords:
            # (rt.reversible: Python's TypeError for a set or an iterator, and a refusal for a class with
            # its own __reversed__, which list(x)[::-1] would not call; was: a set walked backwards where
            # Python raises, a custom __reversed__'s items replaced by the object's own in reverse)
            raw = self.atom(it.args[0], out, hint="seq")
            self.emit(out, gast.Expr(value=call(f"{self.rt_name}.reversible", [raw])))
            seq = self.sequence(raw, out)
            back = gast.Subscript(value=seq, slice=gast.Slice(lower=None, upper=None, step=const(-1)),
                                  ctx=gast.Load())
            seq = self.atom(back, out, hint="seq")
            sequences.append((target, seq))
            lengths.append(self.atom(call("len", [seq]), out, hint="n"))
        elif self._builtin_named(it, "zip") and not it.keywords and isinstance(target, gast.Tuple) and \
                len(target.elts) == len(it.args) and it.args:
            for a, t in zip(it.args, target.elts):
                self.walked(a, t, out, sequences, lengths, index_targets)
        elif self._builtin_named(it, "zip") and not it.keywords and len(it.args) == 1 and \
                isinstance(it.args[0], gast.Starred) and \
                isinstance(target, gast.Tuple) and target.elts and \
                not any(isinstance(t, gast.Starred) for t in target.elts):
            # `for a, b in zip(*seqs)` (autograd's GMM example): seqs holds one sequence per
            # target, walked side by side; any other number fails Python's unpacking, so here too
            seqs = self.atom(it.args[0].value, out, hint="seqs")
            k = len(target.elts)
            self.emit(out, gast.Assert(
                test=gast.Compare(left=call("len", [seqs]), ops=[gast.Eq()], comparators=[const(k)]),
                msg=const(f"zip(*...) over {k} loop targets needs {k} sequences")))
            for j, t in enumerate(target.elts):
                part = self.atom(gast.Subscript(value=seqs, slice=const(j), ctx=gast.Load()), out, hint="seq")
                self.walked(part, t, out, sequences, lengths, index_targets)
        else:
            seq = self.sequence(it, out)
            sequences.append((target, seq))
            lengths.append(self.atom(call("len", [seq]), out, hint="n"))

    def _builtin_named(self, it, name: str) -> bool:
        """``it`` is a call of Python's builtin ``name`` (not a function of the module's own of that name:
        ``def zip(a, b)`` or ``enumerate = ...`` there, whose items a loop takes as they are; was: taken
        apart as the builtin's, a silently wrong value)."""
        if not (isinstance(it, gast.Call) and isinstance(it.func, gast.Name) and it.func.id == name):
            return False
        is_builtin = getattr(self, "is_builtin", None)
        return is_builtin is None or is_builtin(name)

    def sequence(self, iterable, out: List):
        """What a for loop walks by position: lists, tuples and arrays as they are, and any
        other iterable (dict keys, views, generators) as a list."""
        value = self.atom(iterable, out, hint="seq")
        return self.atom(call(f"{self.rt_name}.as_sequence", [value]), out, hint="seq")

    def while_loop(self, s: gast.While, out: List):
        if s.orelse:       # (lower_loop_else rewrote them before)
            self.fail(s, "for ... else" if isinstance(s, gast.For) else "while ... else",
                      "set a flag in the loop and test it after")
        body: List = []
        first = len(out)
        test = self.atom(s.test, out, hint="cond")
        if not isinstance(test, gast.Name):
            name = self.namer.fresh("cond")
            self.emit(out, assign(name, test))
            test = load(name)
        _mark_loop_test(out[first:])
        loop = gast.While(test=test, body=body, orelse=[])
        self.emit(out, loop)
        self.block(s.body, body)
        line = self.line
        self.line = s.lineno
        self.computed = {}
        closing = body[-1] if body else None
        if isinstance(closing, gast.If) and isinstance(closing.test, gast.Name) and \
                len(closing.body) == 1 and isinstance(closing.body[0], gast.Break) and \
                not closing.orelse:
            # `if stop: break` then the test: the test is not evaluated after a break, so
            # no statement of the body follows a break (the adjoint replays whole iterations):
            # `if stop: cond = False` / `else: cond = <test>`
            closing.body = [assign(test.id, const(False), s.lineno)]
            self.assign_to(test.id, s.test, closing.orelse)
            _mark_loop_test(closing.orelse)
        else:
            first = len(body)
            self.assign_to(test.id, s.test, body)
            _mark_loop_test(body[first:])
        self.line = line

    # --- comprehensions ---------------------------------------------------------------------
    def scoped(self, node):
        """A copy of the comprehension ``node`` whose variables have fresh names: in Python 3
        they live in the comprehension's own scope, and must not overwrite the function's."""
        # (``y := ...`` in a list, set or dict comprehension binds y in the function, as the loop the
        # comprehension is lowered into does; a generator runs as it is consumed -- any(...) stops
        # early -- so there the last value bound may differ: refused, in a generator inside it too)
        lazy = [node] if isinstance(node, gast.GeneratorExp) else \
            [m for m in gast.walk(node) if isinstance(m, (gast.GeneratorExp, gast.Lambda)) and m is not node]
        for n in (n for m in lazy for n in gast.walk(m)):
            if isinstance(n, gast.NamedExpr):
                self.fail(n, "the walrus operator := in a generator expression",
                          "write it as a for loop (the name := binds belongs to the function)")
        node = copy.deepcopy(node)
        mapping: Dict[str, str] = {}
        for i, gen in enumerate(node.generators):
            if i > 0:                       # the first iterable is evaluated outside
                gen.iter = _rename_loads(gen.iter, mapping)
            for n in gast.walk(gen.target):
                if isinstance(n, gast.Name):
                    mapping[n.id] = self.namer.fresh(n.id)
            gen.target = _rename_stores(gen.target, mapping)
            gen.ifs = [_rename_loads(c, mapping) for c in gen.ifs]
        for field in ("elt", "key", "value"):
            if getattr(node, field, None) is not None:
                setattr(node, field, _rename_loads(getattr(node, field), mapping))
        node._sct_scope_names = list(mapping.values())
        node._sct_lazy = isinstance(node, gast.GeneratorExp)     # Python runs it as it is consumed
        return node

    def reads_itself(self, name: str, node) -> Optional[str]:
        """``p = {k: v for k, v in p.items()}`` reads the old ``p``: the new value is built
        under a name of its own (returned), bound to ``name`` once complete, as Python does."""
        if any(isinstance(n, gast.Name) and n.id == name for n in gast.walk(node)):
            return self.namer.fresh(name + "_new")
        return None

    def list_comp(self, name: str, node: gast.ListComp, out: List):
        built = self.reads_itself(name, node)
        if built is not None:
            self.list_comp(built, node, out)
            self.emit(out, assign(name, load(built)))
            return
        node = self.scoped(node)
        item = self.namer.fresh(name + "_item")
        self.comprehension(name, node, gast.List(elts=[], ctx=gast.Load()), [
            gast.Assign(targets=[store(item)], value=node.elt, type_comment=None),
            gast.Assign(targets=[store(name)],
                        value=gast.BinOp(left=load(name), op=gast.Add(),
                                         right=gast.List(elts=[load(item)], ctx=gast.Load())),
                        type_comment=None)], out)

    def short_circuit(self, name: str, which: str, node: gast.GeneratorExp, out: List):
        """``name = any(elt for ...)`` (``all``) as Python runs it: the generator's loops, stopped at the
        first true (false) item, so the items after it are never computed (was: every item computed
        first, as a list: an item Python never reaches raised, ``any(1 / v > 0 for v in xs)`` with a 0
        after the first true one, or ``all(x[i] > 5 for i in idx)`` with an index out of range)."""
        node = self.scoped(node)
        found = which == "any"
        test = node.elt if found else gast.UnaryOp(op=gast.Not(), operand=node.elt)
        # (each loop left by a closing `if stop: break`, as sct/normalize_jumps.py lowers a user's break,
        # which has run by now: was a break inside the test's if, which left the if's branch unrecorded,
        # a condition `for i in ... if i != k` made the adjoint pop a branch never pushed: IndexError,
        # or read another iteration's, a wrong gradient inside an enclosing loop)
        inner: List = [gast.If(test=test, body=[assign(name, const(found))], orelse=[])]
        for k, gen in enumerate(reversed(node.generators)):
            if gen.is_async:
                self.fail(node, "async comprehension", "use a plain loop")
            for cond in reversed(gen.ifs):
                inner = [gast.If(test=cond, body=inner, orelse=[])]
            stop = load(name) if found else gast.UnaryOp(op=gast.Not(), operand=load(name))
            inner = [gast.For(target=gen.target, iter=gen.iter,
                              body=inner + [gast.If(test=stop, body=[gast.Break()], orelse=[])],
                              orelse=[], type_comment=None)]
        start = assign(name, const(not found))
        start._sct_scope = getattr(node, "_sct_scope_names", ())
        start._sct_lazy = True
        self.emit(out, start)
        for st in inner:
            st.lineno = self.line
        self.block(inner, out)

    def dict_comp(self, name: str, node: gast.DictComp, out: List):
        built = self.reads_itself(name, node)
        if built is not None:
            self.dict_comp(built, node, out)
            self.emit(out, assign(name, load(built)))
            return
        node = self.scoped(node)
        key, item = self.namer.fresh(name + "_key"), self.namer.fresh(name + "_item")
        self.comprehension(name, node, gast.Dict(keys=[], values=[]), [
            gast.Assign(targets=[store(key)], value=node.key, type_comment=None),
            gast.Assign(targets=[store(item)], value=node.value, type_comment=None),
            gast.Assign(targets=[gast.Subscript(value=load(name), slice=load(key), ctx=gast.Store())],
                        value=load(item), type_comment=None)], out)

    def comprehension(self, name: str, node, empty, inner: List, out: List):
        """``name = empty`` then ``inner`` inside the comprehension's loops and conditions."""
        start = assign(name, empty)
        start._sct_scope = getattr(node, "_sct_scope_names", ())   # its variables' scope starts (sct/closures.py)
        start._sct_lazy = getattr(node, "_sct_lazy", False)         # a generator made a list: closures of
        # its variables cannot follow them (a lambda called as the generator is consumed reads its value then)
        self.emit(out, start)
        for gen in reversed(node.generators):
            if gen.is_async:
                self.fail(node, "async comprehension", "use a plain loop")
            for cond in reversed(gen.ifs):
                inner = [gast.If(test=cond, body=inner, orelse=[])]
            inner = [gast.For(target=gen.target, iter=gen.iter, body=inner, orelse=[], type_comment=None)]
        for s in inner:
            s.lineno = self.line
        self.block(inner, out)


def _mark_loop_test(stmts: List) -> None:
    """Mark the statements that compute a while loop's test (before the loop, and again at the end of
    its body): a call there runs once per test, so a check made once before it is not enough
    (sct/write_checks.py _str_method_guarded)."""
    for st in stmts:
        for n in gast.walk(st):
            if isinstance(n, gast.stmt):
                n.sct_loop_test = True


def _values_by_key(s: gast.For, rt_name: str, namer):
    """``for v in d.values():`` (or ``for k, v in d.items():``) whose body writes into ``v[...]`` (a
    dict of layers, each a dict of arrays: gradients clipped in place) as ``for k in list(d): ...``
    with ``v`` read as ``d[k]`` throughout the body, and ``v = d[k]`` at its end (returned with the
    check that ``d`` is a dict, or None for any other loop).  Python's ``v`` is the object ``d[k]``
    holds, and stays so while the body rebinds none of ``d``, ``k`` and ``v``, writes nothing into
    ``d`` itself (nor calls its methods: d keeps its keys, so Python's walk raises nothing) and
    leaves the loop by neither ``break`` nor ``continue`` (the last line binds ``v`` as Python left
    it); so the two run alike, the writes then spelled through ``d`` as sct follows them (was:
    refused, the write read as one into what the loop walks)."""
    it, target = s.iter, s.target
    if not (isinstance(it, gast.Call) and isinstance(it.func, gast.Attribute) and it.func.attr in ("values", "items")
            and not it.args and not it.keywords and isinstance(it.func.value, gast.Name)):
        return None
    held = it.func.value
    if it.func.attr == "values" and isinstance(target, gast.Name):
        key, value = None, target.id
    elif it.func.attr == "items" and isinstance(target, gast.Tuple) and len(target.elts) == 2 and \
            all(isinstance(e, gast.Name) for e in target.elts) and target.elts[0].id != target.elts[1].id:
        key, value = target.elts[0].id, target.elts[1].id
    else:
        return None
    writes = False
    items_of_d = {id(n.value) for stmt in s.body for n in gast.walk(stmt)
                  if isinstance(n, gast.Subscript) and isinstance(n.ctx, gast.Load)}
    for n in (n for stmt in s.body for n in gast.walk(stmt)):
        if isinstance(n, gast.Name) and not isinstance(n.ctx, gast.Load) and n.id in (held.id, key, value):
            return None         # d, k or v rebound (or deleted) in the body
        if isinstance(n, gast.Name) and n.id == held.id and id(n) not in items_of_d:
            # d read otherwise than by its items (given to a helper that may put another dict at the
            # key, ``swap(d)``, where Python's v stays the old one: was 525 where 131.25 is right)
            return None
        if isinstance(n, (gast.Global, gast.Nonlocal, gast.FunctionDef, gast.Lambda, gast.ClassDef, gast.Break,
                          gast.Continue)):
            return None
        if isinstance(n, gast.Subscript) and not isinstance(n.ctx, gast.Load) and \
                isinstance(n.value, gast.Name) and n.value.id == held.id:
            return None         # a write into d itself
        if isinstance(n, gast.Call) and isinstance(n.func, gast.Attribute) and \
                isinstance(n.func.value, gast.Name) and n.func.value.id == held.id:
            return None         # d.update(...), d.pop(...): d's keys may change
        if isinstance(n, gast.Subscript) and isinstance(n.ctx, gast.Store):
            base = n.value
            while isinstance(base, gast.Subscript):
                base = base.value
            writes = writes or isinstance(base, gast.Name) and base.id == value
    if not writes or _resizes_walked(s.body, value):
        return None
    key = key or namer.fresh("key")

    def item():
        return gast.Subscript(value=load(held.id), slice=load(key), ctx=gast.Load())

    class Spell(gast.NodeTransformer):
        def visit_Name(self, n):
            return gast.copy_location(item(), n) if isinstance(n.ctx, gast.Load) and n.id == value else n

    body = [Spell().visit(stmt) for stmt in s.body]
    check = gast.Assert(test=gast.Call(func=gast.Attribute(value=load(rt_name), attr="builtin_isinstance",
                                                           ctx=gast.Load()),
                                       args=[load(held.id), gast.Attribute(value=load(rt_name), attr="builtin_dict",
                                                                           ctx=gast.Load())], keywords=[]),
                        msg=gast.Constant(value=f"line {s.lineno}: sct runs `for ... in {held.id}.{it.func.attr}()`, "
                                                f"whose body writes into {value}[...], over the keys of a dict",
                                          kind=None))
    last = gast.Assign(targets=[store(value)], value=item(), type_comment=None)
    keys = gast.Call(func=gast.Attribute(value=load(rt_name), attr="builtin_list", ctx=gast.Load()),
                     args=[load(held.id)], keywords=[])
    loop = gast.For(target=store(key), iter=keys, body=body + [last], orelse=s.orelse, type_comment=None)
    for node in (check, last, loop):
        gast.copy_location(node, s)
    for node in (n for b in body for n in gast.walk(b)):
        if isinstance(node, gast.Subscript) and not hasattr(node, "lineno"):
            gast.copy_location(node, s)
    return loop, check


def _resizes_walked(body, value: str) -> bool:
    """May ``body`` change the size of ``value`` while a loop walks it, where Python raises RuntimeError,
    or read ``value`` otherwise than by its items (``value[k]``) and by the loops walking it (``for k in
    value``, ``value.keys()``, ``value.values()``, ``value.items()``) that write into it by their own key
    only (``value[k] = ...``: no new key)?  (Read as ``d[key]`` by _values_by_key, a walk of it is one
    the size check of ``_resized_walk`` does not read, nor a view of it, ``ks = value.keys()``, nor a walk
    of an item, ``for j in value[k]``: such a body is left as it was, refused.)"""
    parent = {}
    for stmt in body:
        for n in gast.walk(stmt):
            for c in gast.iter_child_nodes(n):
                parent[id(c)] = n
    walks = set()
    for loop in (n for stmt in body for n in gast.walk(stmt) if isinstance(n, gast.For)):
        it, target = loop.iter, loop.target
        if not any(isinstance(n, gast.Name) and n.id == value for n in gast.walk(it)):
            continue
        if isinstance(it, gast.Call) and isinstance(it.func, gast.Attribute) and \
                it.func.attr in ("keys", "values", "items") and not it.args and not it.keywords:
            own = target.elts[0] if it.func.attr == "items" and isinstance(target, gast.Tuple) and target.elts else \
                target if it.func.attr == "keys" else None
            it = it.func.value
        else:
            own = target
        if not (isinstance(it, gast.Name) and it.id == value):
            return True         # (a walk of an item of it, or of something made of it)
        walks.add(id(it))
        own = own.id if isinstance(own, gast.Name) else None
        for n in (n for stmt in loop.body for n in gast.walk(stmt)):
            if isinstance(n, gast.Name) and n.id == own and not isinstance(n.ctx, gast.Load):
                return True
            if isinstance(n, gast.Subscript) and not isinstance(n.ctx, gast.Load) and \
                    isinstance(n.value, gast.Name) and n.value.id == value and \
                    (isinstance(n.ctx, gast.Del) or not (isinstance(n.slice, gast.Name) and n.slice.id == own)):
                return True
    for n in (n for stmt in body for n in gast.walk(stmt)):
        if isinstance(n, gast.Name) and n.id == value and id(n) not in walks:
            up = parent.get(id(n))
            if not (isinstance(up, gast.Subscript) and up.value is n):
                return True     # (given to a call, a view or iterator of it, a method of it)
    return False


def _items_by_key(s: gast.For, rt_name: str = "rt", namer=None):
    """``for k, v in d.items():`` whose body writes ``d[k] = ...`` (the current key: a dict of
    parameters updated in place) as ``for k in list(d): v = d[k]; ...``, after a check that ``d`` is
    a dict (returned with the loop; None for any other loop, returned as it is).  Python's items
    view reads each value when the loop reaches its key, so the two run alike while the body
    rebinds neither ``d`` (nor a name or attribute of its spelling) nor ``k``; the loop walks a list
    of the keys, so a write into ``d`` is no write into what it walks (was refused, though the
    README said it ran)."""
    by_value = _values_by_key(s, rt_name, namer) if namer is not None else None
    if by_value is not None:
        return by_value
    it, target = s.iter, s.target
    if not (isinstance(it, gast.Call) and isinstance(it.func, gast.Attribute) and it.func.attr == "items"
            and not it.args and not it.keywords and isinstance(target, gast.Tuple) and len(target.elts) == 2
            and isinstance(target.elts[0], gast.Name)):
        return s, None
    held, key = it.func.value, target.elts[0].id
    chain, root = set(), held
    while isinstance(root, gast.Attribute):
        chain.add(root.attr)
        root = root.value
    if not isinstance(root, gast.Name):
        return s, None
    spelled, writes = node_key(held), False
    for n in (n for stmt in s.body for n in gast.walk(stmt)):
        if isinstance(n, gast.Name) and not isinstance(n.ctx, gast.Load) and n.id in (root.id, key):
            return s, None          # d or k rebound (or deleted) in the body
        if isinstance(n, gast.Attribute) and not isinstance(n.ctx, gast.Load) and n.attr in chain:
            return s, None
        if isinstance(n, (gast.Global, gast.Nonlocal, gast.FunctionDef, gast.Lambda, gast.ClassDef)):
            return s, None
        if isinstance(n, gast.Subscript) and isinstance(n.ctx, gast.Store) and \
                isinstance(n.slice, gast.Name) and n.slice.id == key and node_key(n.value) == spelled:
            writes = True
    if not writes:
        return s, None

    def builtin(name):          # (Python's own, whatever the user's code names so: `list = sorted`)
        return gast.Attribute(value=load(rt_name), attr="builtin_" + name, ctx=gast.Load())

    check = gast.Assert(test=gast.Call(func=builtin("isinstance"), args=[copy.deepcopy(held), builtin("dict")],
                                       keywords=[]),
                        msg=gast.Constant(value=f"line {s.lineno}: sct runs `for {key}, ... in ....items()`, whose "
                                                f"body writes [{key}], over the keys of a dict", kind=None))
    value = gast.Assign(targets=[target.elts[1]],
                        value=gast.Subscript(value=copy.deepcopy(held), slice=load(key), ctx=gast.Load()),
                        type_comment=None)
    keys = gast.Call(func=builtin("list"), args=[copy.deepcopy(held)], keywords=[])
    loop = gast.For(target=target.elts[0], iter=keys, body=[value] + s.body, orelse=s.orelse, type_comment=None)
    for node in (check, value, loop):
        gast.copy_location(node, s)
    return loop, check


def _rows_by_position(s: gast.For, rt_name: str, builtin_named):
    """``for i, row in enumerate(A):`` (or ``zip(range(n), A)``) whose body writes ``A[i] = ...`` (``A[i] += ...``,
    ``A[i, j] = ...``: the item the loop is at) as ``for i in range(len(A)): row = A[i]; ...``, after a check that
    ``A`` is a list or an array (returned with the loop; ``(s, None)`` for any other loop).  Python's iterator
    over a list or an array reads ``A[i]`` when it reaches ``i`` (an array's row: a view of it, which a later
    write into ``A[i]`` changes, as ``row = A[i]`` is in sct), so the two run alike while the body rebinds
    neither ``A`` nor ``i``, reads ``A`` only by its items and writes into it only at ``i`` (no new length:
    no slice, no ``del``), and defines no function that could (was: refused as a write into what the loop
    walks, where the same loop over ``range(len(A))`` ran: fuzz54 F3)."""
    it, target = s.iter, s.target
    if not (isinstance(target, gast.Tuple) and len(target.elts) == 2 and
            all(isinstance(e, gast.Name) for e in target.elts) and target.elts[0].id != target.elts[1].id and
            isinstance(it, gast.Call) and not it.keywords):
        return s, None
    counter, row = target.elts[0].id, target.elts[1].id
    bound = None
    if builtin_named(it, "enumerate") and len(it.args) == 1:
        held = it.args[0]
    elif builtin_named(it, "zip") and len(it.args) == 2 and builtin_named(it.args[0], "range") and \
            len(it.args[0].args) == 1 and not it.args[0].keywords and \
            not isinstance(it.args[0].args[0], gast.Starred):
        held, bound = it.args[1], it.args[0].args[0]
        length_of_held = builtin_named(bound, "len") and len(bound.args) == 1 and not bound.keywords and \
            isinstance(held, gast.Name) and isinstance(bound.args[0], gast.Name) and bound.args[0].id == held.id
        if not (isinstance(bound, (gast.Name, gast.Constant)) or length_of_held) or isinstance(bound, gast.Name) \
                and bound.id in (held.id if isinstance(held, gast.Name) else None, counter, row):
            return s, None      # (the bound read before the sequence: a name, a number or len(A) only)
    else:
        return s, None
    if not isinstance(held, gast.Name) or held.id in (counter, row):
        return s, None

    def at_counter(index):
        first = index.elts[0] if isinstance(index, gast.Tuple) and index.elts else index
        return isinstance(first, gast.Name) and first.id == counter and not any(
            isinstance(n, gast.Slice) for n in gast.walk(first))

    parent = {id(c): n for stmt in s.body for n in gast.walk(stmt) for c in gast.iter_child_nodes(n)}
    writes = False
    for n in (n for stmt in s.body for n in gast.walk(stmt)):
        if isinstance(n, gast.Name) and not isinstance(n.ctx, gast.Load) and n.id in (held.id, counter):
            return s, None      # A or i rebound (or deleted) in the body
        if isinstance(n, (gast.Global, gast.Nonlocal, gast.FunctionDef, gast.AsyncFunctionDef, gast.Lambda,
                          gast.ClassDef)):
            return s, None
        if isinstance(n, gast.Name) and n.id == held.id:
            up = parent.get(id(n))
            if not (isinstance(up, gast.Subscript) and up.value is n):
                return s, None  # A given to a call, a method of it, a view of it: its length may change
            if not isinstance(up.ctx, gast.Load):
                if isinstance(up.ctx, gast.Del) or not at_counter(up.slice):
                    return s, None
                writes = True
    if not writes:
        return s, None

    def builtin(name):
        return gast.Attribute(value=load(rt_name), attr="builtin_" + name, ctx=gast.Load())

    check = gast.Assert(
        test=gast.BoolOp(op=gast.Or(), values=[
            # (a list, not a subclass, whose own __getitem__ would give other items than its iterator: red3_54 W2)
            gast.Compare(left=gast.Call(func=builtin("type"), args=[load(held.id)], keywords=[]), ops=[gast.Is()],
                         comparators=[builtin("list")]),
            call(f"{rt_name}.is_array", [load(held.id)])]),
        msg=gast.Constant(value=f"line {s.lineno}: sct runs `for {counter}, {row} in "
                                f"{'enumerate(' if bound is None else 'zip(range(...), '}{held.id})`, whose body "
                                f"writes {held.id}[{counter}], over the positions of a list or an array", kind=None))
    length = call("len", [load(held.id)])
    if bound is not None:
        length = call("min", [call("len", [call("range", [copy.deepcopy(bound)])]), length])
    item = gast.Assign(targets=[store(row)], value=gast.Subscript(value=load(held.id), slice=load(counter),
                                                                     ctx=gast.Load()), type_comment=None)
    loop = gast.For(target=store(counter), iter=call("range", [length]), body=[item] + s.body, orelse=s.orelse,
                    type_comment=None)
    for node in (n for top in (check, item, loop) for n in gast.walk(top)):
        if isinstance(node, (gast.stmt, gast.expr)) and not hasattr(node, "lineno"):
            gast.copy_location(node, s)
    gast.copy_location(loop, s)
    return loop, check


def _rename_stores(target, mapping: Dict[str, str]):
    for n in gast.walk(target):
        if isinstance(n, gast.Name) and n.id in mapping:
            n.id = mapping[n.id]
    return target


def _rename_loads(node, mapping: Dict[str, str]):
    """``node`` with the names in ``mapping`` renamed where they are read, except inside nested
    scopes that bind them again (comprehensions, lambdas)."""
    if not mapping:
        return node

    class Rename(gast.NodeTransformer):
        def __init__(self, names):
            self.names = names

        def visit_Name(self, n):
            if isinstance(n.ctx, gast.Load) and n.id in self.names:
                n.id = self.names[n.id]
            return n

        def visit_Lambda(self, n):
            bound = {a.id for a in n.args.args + n.args.kwonlyargs if isinstance(a, gast.Name)}
            inner = {k: v for k, v in self.names.items() if k not in bound}
            n.args.defaults = [Rename(self.names).visit(d) for d in n.args.defaults]
            n.body = Rename(inner).visit(n.body)
            return n

        def comprehension_scope(self, n, fields):
            names = dict(self.names)
            for i, gen in enumerate(n.generators):
                gen.iter = Rename(self.names if i == 0 else names).visit(gen.iter)
                for t in gast.walk(gen.target):
                    if isinstance(t, gast.Name):
                        names.pop(t.id, None)
                gen.ifs = [Rename(names).visit(c) for c in gen.ifs]
            for field in fields:
                setattr(n, field, Rename(names).visit(getattr(n, field)))
            return n

        def visit_ListComp(self, n):
            return self.comprehension_scope(n, ("elt",))

        def visit_SetComp(self, n):
            return self.comprehension_scope(n, ("elt",))

        def visit_GeneratorExp(self, n):
            return self.comprehension_scope(n, ("elt",))

        def visit_DictComp(self, n):
            return self.comprehension_scope(n, ("key", "value"))

    return Rename(mapping).visit(node)


def lower_loop_else(stmts: List, namer) -> List:
    """``for/while ... else`` (in ``stmts`` and the blocks inside them, not nested defs): a flag the
    loop's own ``break`` sets, and ``if not flag:`` with the else block after the loop -- what
    Python runs: the else block unless the loop broke.  Done before the jumps become flags."""
    result = []
    for st in stmts:
        if isinstance(st, (gast.FunctionDef, gast.AsyncFunctionDef, gast.ClassDef)):
            result.append(st)
            continue
        if any(isinstance(getattr(st, f, None), list) for f in ("body", "orelse", "finalbody", "handlers", "cases")):
            st = copy.copy(st)
            for field in ("body", "orelse", "finalbody"):
                if isinstance(getattr(st, field, None), list):
                    setattr(st, field, lower_loop_else(getattr(st, field), namer))
            for field, part in (("handlers", "body"), ("cases", "body")):
                if isinstance(getattr(st, field, None), list):
                    items = []
                    for h in getattr(st, field):
                        h = copy.copy(h)
                        setattr(h, part, lower_loop_else(getattr(h, part), namer))
                        items.append(h)
                    setattr(st, field, items)
        if isinstance(st, (gast.For, gast.While)) and st.orelse:
            flag = namer.fresh("broke")
            orelse = st.orelse
            st.body = _flag_breaks(st.body, flag)
            st.orelse = []
            test = gast.UnaryOp(op=gast.Not(), operand=load(flag))
            result.append(gast.copy_location(assign(flag, const(False)), st))
            result.append(st)
            result.append(gast.copy_location(gast.If(test=test, body=orelse, orelse=[]), orelse[0]))
            continue
        result.append(st)
    return result


def _flag_breaks(stmts: List, flag: str) -> List:
    """``stmts`` with each ``break`` of their loop (not of loops nested in them) preceded by
    ``flag = True``."""
    result = []
    for st in stmts:
        if isinstance(st, gast.Break):
            result.append(gast.copy_location(assign(flag, const(True)), st))
            result.append(st)
            continue
        if isinstance(st, (gast.FunctionDef, gast.AsyncFunctionDef, gast.ClassDef)):
            result.append(st)
            continue
        if isinstance(st, (gast.For, gast.While, gast.AsyncFor)):
            st = copy.copy(st)     # the breaks of its body are its own; those of its else block ours
            st.orelse = _flag_breaks(st.orelse, flag)
            result.append(st)
            continue
        st = copy.copy(st)
        for field in ("body", "orelse", "finalbody"):
            if isinstance(getattr(st, field, None), list):
                setattr(st, field, _flag_breaks(getattr(st, field), flag))
        if isinstance(st, gast.Try):
            handlers = []
            for h in st.handlers:
                h = copy.copy(h)
                h.body = _flag_breaks(h.body, flag)
                handlers.append(h)
            st.handlers = handlers
        if type(st).__name__ == "Match":
            cases = []
            for c in st.cases:
                c = copy.copy(c)
                c.body = _flag_breaks(c.body, flag)
                cases.append(c)
            st.cases = cases
        result.append(st)
    return result


# --- loops over lazy iterators -----------------------------------------------------------------
# A generator expression or map() is run as it is consumed: a for loop over one computes each
# item after the body ran for the one before, so a body that rebinds or changes what the
# generator reads (``k = 5.0``, ``rng.normal()``) changes the items that follow.  sct builds
# other generators whole (a list), so a loop over one is written out here as the loop Python
# runs: the generator's own loops, its conditions, the item, then the body.

def lower_lazy_loops(stmts: List, namer, fail, modules=frozenset(), aliases=None, effects=None,
                     outer: Optional[Dict[str, tuple]] = None, shares: Optional[Dict[str, set]] = None) -> List:
    """``for T in (E for t in I if C)`` -> ``for t' in I: if C': T = E'; body`` (its variables
    renamed: they belong to the generator's scope), ``for T in map(F, A, ...)`` -> ``for a' in
    A: T = F(a'); body`` (``zip(A, B)`` for more than one), in ``stmts`` and the blocks inside
    them (not nested defs).  A loop over a name bound to such a generator in the same block
    whose body rebinds or changes a name the generator reads is refused (built whole, its
    items would be those before the change)."""
    if aliases is None:
        aliases = _name_aliases(stmts)
    if shares is None:
        shares = _view_aliases(stmts)
    result: List = []
    lazy: Dict[str, tuple] = dict(outer or {})   # name -> (what the generator bound to it reads, the
    # objects whose methods it calls: rng of rng.normal(), changed by the generator as it runs, whether it
    # draws, what it reads where it is made); those of the enclosing blocks too (``outer``: was lost in
    # an if's or a loop's body and in the loop a map() or generator loop is lowered to, so ``for u in
    # map(np.sum, g): k = ...`` of ``g = (x * k for ...)`` was not refused, and gave the old k's items)
    for st in stmts:
        if isinstance(st, (gast.FunctionDef, gast.AsyncFunctionDef, gast.ClassDef)):
            result.append(st)
            continue
        for field in ("body", "orelse", "finalbody"):
            if isinstance(getattr(st, field, None), list):
                setattr(st, field, lower_lazy_loops(getattr(st, field), namer, fail, modules, aliases, effects, lazy, shares))
        for field in ("handlers", "cases"):
            for h in getattr(st, field, None) or ():
                h.body = lower_lazy_loops(h.body, namer, fail, modules, aliases, effects, lazy, shares)
        lowered = _lazy_loop(st, namer, fail) if isinstance(st, gast.For) else None
        if isinstance(st, gast.For) and lowered is None:
            zipped = _call_of(st.iter, "zip") and len(st.iter.args) > 1
            for name, reads, receivers, drawing, eager in _lazy_parts(st.iter, lazy, modules, effects):
                touched = (_changed_in_place(st.body, shares) | _spread(_passed_to_effects(st.body, effects), shares)) \
                    - set(modules) - _MODULE_NAMES      # (np.sum(v) changes nothing; draws: _changed_names)
                changed = (_changed_names(st.body, modules) & reads) | (_passed_names(st.body) & receivers) | \
                    (touched & (reads | eager))
                if changed:
                    fail(st, "a for loop over a generator whose body changes what the generator reads",
                         f"{name} computes its items as the loop asks for them, and the body changes "
                         f"{', '.join(sorted(changed))} before the next one; sct would compute them all first. "
                         f"Write the loop over the generator's own iterable (for t in ...: v = ...)")
                if drawing and (zipped or _has_own_break(st.body)):
                    fail(st, "a for loop that may stop before the end of a generator drawing random numbers",
                         f"{name} draws as the loop asks for its items, and the loop may stop before the last "
                         f"one ({'zip stops at its shortest argument' if zipped else 'a break'}); sct would draw "
                         f"them all first, so later draws would differ. Draw in the loop's body instead")
        if isinstance(st, gast.For) and lowered is None:
            views = _live_views(st.iter, st.target)
            for name in list(views):                   # e = d anywhere in the function: e[k] = v too
                for other in aliases.get(name, ()):
                    views.setdefault(other, set())
            written = _written_into(st.body, views)
            if written:
                name = sorted(written)[0]
                fail(st, "a for loop over a live view whose body writes into what the view reads",
                     f"the loop reads the items of {name} as it goes ({name}.items(), {name}.values() and "
                     f"reversed({name}) are views, not copies), and the body writes into {name}, so Python's "
                     f"later items are the new values; sct would take them all first. Walk a copy "
                     f"(list({name}.items()), {name}.copy()) where the old values are meant, or index {name} "
                     f"in the body where the new ones are")
        if not isinstance(st, gast.For) or lowered is None:
            _check_partial_consumers(st, lazy, fail, modules, effects)
            _check_comprehensions_over_lazy(st, lazy, fail, modules, effects, shares)
        if lowered is not None:
            result.extend(lower_lazy_loops(lowered, namer, fail, modules, aliases, effects, lazy, shares))
            continue
        if not any(isinstance(getattr(st, f, None), list) for f in ("body", "orelse", "finalbody", "handlers",
                                                                   "cases")):
            for name in _stored_names(st):      # (rebound in a block that may not run: kept)
                lazy.pop(name, None)
        if isinstance(st, gast.Assign) and len(st.targets) == 1 and isinstance(st.targets[0], gast.Name) \
                and _lazy_iterator(st.value):
            reads, receivers, drawing, eager = _lazy_facts(st.value, modules, effects)
            for other in sorted((reads | eager) & set(lazy)):
                # g2 = (u * 2 for u in g1): g2 walks g1 as it is walked, reading what g1 reads then
                o_reads, o_receivers, o_drawing, o_eager = lazy[other]
                reads, receivers, drawing, eager = reads | o_reads, receivers | o_receivers, \
                    drawing or o_drawing, eager | o_eager
            lazy[st.targets[0].id] = (reads, receivers, drawing, eager - reads)
        result.append(st)
    return result


def _lazy_iterator(node) -> bool:
    return isinstance(node, gast.GeneratorExp) or _is_map(node)


def _call_of(node, name: str) -> bool:
    return isinstance(node, gast.Call) and isinstance(node.func, gast.Name) and node.func.id == name


#: methods of numpy's random generators (and the random module's functions) that draw: a generator
#: calling one computes different numbers when it is walked only in part (Python) or whole (sct)
_DRAWS = frozenset({
    "normal", "standard_normal", "uniform", "random", "integers", "choice", "permutation", "permuted",
    "shuffle", "binomial", "poisson", "exponential", "standard_exponential", "gamma", "standard_gamma",
    "beta", "laplace", "logistic", "lognormal", "multinomial", "multivariate_normal", "gumbel",
    "geometric", "rand", "randn", "randint", "random_sample", "random_integers", "ranf", "sample",
    "bytes", "dirichlet", "chisquare", "standard_t", "standard_cauchy", "triangular", "vonmises",
    "wald", "weibull", "rayleigh", "pareto", "power", "zipf", "hypergeometric", "negative_binomial",
    "gauss", "randrange", "getrandbits", "betavariate", "expovariate", "gammavariate",
    "lognormvariate", "normalvariate", "paretovariate", "vonmisesvariate", "weibullvariate",
    "triangular", "noncentral_chisquare", "noncentral_f", "f", "logseries", "spawn", "jumped"})


_MODULE_NAMES = frozenset({"np", "numpy", "math", "sct", "scipy"})   # (np.power is not a draw)


def _draws(node, modules=frozenset(), effects=None) -> bool:
    """Whether ``node`` calls a method that draws random numbers (``rng.normal()``,
    ``np.random.rand()``, ``random.gauss()``), ``next()`` of an iterator, or a function ``effects``
    (the caller's predicate of a call, where given) says may draw or change something (a helper
    drawing, a nested def assigning its enclosing function's names)."""
    for n in gast.walk(node):
        if not isinstance(n, gast.Call):
            continue
        if _call_of(n, "next") or effects is not None and effects(n):
            return True
        if isinstance(n.func, gast.Attribute):
            chain = [n.func.attr]
            base = n.func.value
            while isinstance(base, (gast.Subscript, gast.Attribute)):
                chain.append(getattr(base, "attr", None))
                base = base.value
            module = isinstance(base, gast.Name) and (base.id in modules or base.id in _MODULE_NAMES)
            if "random" in chain[1:] or isinstance(base, gast.Name) and base.id == "random" or \
                    n.func.attr in _DRAWS and not module:
                return True
    return False


def _lazy_parts(it, lazy: Dict[str, tuple], modules=frozenset(), effects=None) -> List[tuple]:
    """(what to call it, the names it reads, the objects whose methods it calls, whether it draws) of
    each lazy iterator (a generator expression or map(), or a name bound to one in the block) that a
    for loop over ``it`` walks as it goes, but that sct builds whole: ``it`` a name bound to one, or
    one given to ``enumerate(...)`` or ``zip(...)``."""
    if isinstance(it, gast.Name):
        return [(it.id,) + lazy[it.id]] if it.id in lazy else []
    parts = []
    if _call_of(it, "enumerate") or _call_of(it, "zip"):
        for a in it.args:
            if isinstance(a, gast.Name) and a.id in lazy:
                parts.append((a.id,) + lazy[a.id])
            elif _lazy_iterator(a):
                what = "the generator expression" if isinstance(a, gast.GeneratorExp) else "map()"
                parts.append((f"{what} given to {it.func.id}()",) + _lazy_facts(a, modules, effects))
            elif _call_of(a, "enumerate") or _call_of(a, "zip"):
                parts.extend(_lazy_parts(a, lazy, modules, effects))   # enumerate(zip(G, t)), zip(enumerate(G), t)
    return parts


def _lazy_facts(node, modules=frozenset(), effects=None) -> tuple:
    """(the names a generator expression or map() reads as it is walked, the objects whose methods it
    calls, whether it draws random numbers or calls what may have effects, ``_draws``, the names it
    reads only where it is made).  Python evaluates a generator expression's first iterable and
    map()'s arguments when it makes the generator (``gen(acc)``, read as ``(v for v in
    gen_items(acc))``, binds ``acc``'s object then): rebinding such a name later changes nothing the
    generator computes, changing its object in place does (a lambda's body is read when called)."""
    if isinstance(node, gast.GeneratorExp):
        eager_parts = [node.generators[0].iter]
        lazy_parts = [node.elt] + list(node.generators[0].ifs) + \
            [p for g in node.generators[1:] for p in [g.iter] + list(g.ifs)]
    else:   # map(F, A, ...)
        eager_parts, lazy_parts = list(node.args), []

    def names(parts, in_lambda):
        # (a lambda's body, and a generator expression or map() inside the first iterable,
        # ``(u * 2 for u in (x * k for ...))``, read their names as they are walked: lazily)
        out = set()
        for part in parts:
            for m in gast.walk(part):
                if not in_lambda and (isinstance(m, gast.Lambda) or _lazy_iterator(m)):
                    lazy_parts.append(m)
                elif isinstance(m, gast.Name) and (in_lambda or not any(
                        m in set(gast.walk(lam)) for lam in lazy_parts
                        if isinstance(lam, gast.Lambda) or _lazy_iterator(lam))):
                    out.add(m.id)
        return out
    eager = names(eager_parts, False)
    lazy = names(lazy_parts, True)
    return (lazy, _receivers(node), _draws(node, modules, effects), eager - lazy)


def _changed_in_place(stmts: List, aliases=None) -> set:
    """Names whose objects the statements may change in place: written into (``z[i] = v``, ``o.a =
    v``), augmented (``acc += v``: in place for an array or a list), or the receiver of a method call
    (``acc.append(v)``), with every name the function binds to one of them (``b = acc``)."""
    changed = set()
    for st in stmts:
        for n in walk_nodes(st):
            base = None
            if isinstance(n, gast.AugAssign):
                base = n.target
            elif isinstance(n, (gast.Subscript, gast.Attribute)) and isinstance(n.ctx, (gast.Store, gast.Del)):
                base = n.value
            elif isinstance(n, gast.Call) and isinstance(n.func, gast.Attribute):
                base = n.func.value
            if isinstance(n, gast.Call):
                changed |= _written_by_call(n)
            while isinstance(base, (gast.Subscript, gast.Attribute)):
                base = base.value
            if isinstance(base, gast.Name):
                changed.add(base.id)
    for name in list(changed):
        changed |= set((aliases or {}).get(name, ()))
    return changed


def _check_partial_consumers(st, lazy: Dict[str, tuple], fail, modules=frozenset(), effects=None) -> None:
    """Refuse a generator that draws random numbers given to what may take only some of its items:
    ``any(...)`` and ``all(...)`` (they stop at the first True / False) and ``zip(...)`` (it stops at its
    shortest argument).  sct builds the generator whole, drawing every item."""
    for n in walk_nodes(st):
        if not isinstance(n, gast.Call) or not isinstance(n.func, gast.Name) or \
                n.func.id not in ("any", "all", "zip") or (n.func.id == "zip" and len(n.args) < 2):
            continue
        for part in _lazy_parts(call("zip", n.args), lazy, modules, effects) if n.func.id == "zip" else (
                _lazy_parts(call("zip", n.args[:1]), lazy, modules, effects)):
            if part[3]:
                why = "zip stops at its shortest argument" if n.func.id == "zip" else \
                    f"{n.func.id}() stops at the first {'True' if n.func.id == 'any' else 'False'} item"
                fail(n, f"a generator drawing random numbers (or calling a function with effects) given to "
                        f"{n.func.id}()",
                     f"Python computes only the items {n.func.id}() takes ({why}); sct builds the generator "
                     f"whole, drawing (or running the function) for every item, so later draws or values would "
                     f"differ. Make a list first ([... for ...]) if every item is meant to be computed")


_FINITE_WALKERS = frozenset({"range", "enumerate", "zip", "reversed", "sorted", "list", "tuple"})


def _finite_walk(node) -> bool:
    """Does walking ``node`` surely end: a display, a string, a name, item or attribute (a container
    the function holds), ``d.items()``/``keys()``/``values()``, or range/enumerate/zip/reversed/sorted/
    list/tuple of such (not ``itertools.count()``, ``iter(f, sentinel)`` or a call of the user's)?"""
    if isinstance(node, (gast.Tuple, gast.List, gast.Set, gast.Dict, gast.Constant, gast.Name,
                         gast.Attribute, gast.Subscript)):
        return True
    if isinstance(node, gast.Starred):
        return _finite_walk(node.value)
    if isinstance(node, gast.Call) and not node.keywords:
        if isinstance(node.func, gast.Name) and node.func.id in _FINITE_WALKERS:
            return node.func.id == "range" or all(_finite_walk(a) for a in node.args)
        if isinstance(node.func, gast.Attribute) and node.func.attr in ("items", "keys", "values") and \
                not node.args:
            return True
    return False


def _is_map(node) -> bool:
    return isinstance(node, gast.Call) and isinstance(node.func, gast.Name) and node.func.id == "map" and \
        len(node.args) >= 2 and not node.keywords and not any(isinstance(a, gast.Starred) for a in node.args)


_LAZY_BUILTINS = frozenset({"filter", "enumerate", "zip", "reversed"})
_LAZY_ITERTOOLS = frozenset({"chain", "accumulate", "islice", "starmap", "compress", "takewhile", "dropwhile",
                             "zip_longest", "filterfalse", "pairwise", "cycle", "groupby", "tee", "from_iterable"})


def _stored_iterator(node) -> bool:
    """A call making an iterator that reads its arguments' items (and calls its functions) as it is
    walked, not where it is made: filter(), enumerate(), zip(), reversed(), map() given a
    starred argument, and itertools' (``itertools.chain(...)``, ``islice(...)``).  (iter() of a list or
    an object: its own checks, a generator method's __iter__ running when walked.)"""
    if not isinstance(node, gast.Call):
        return False
    func = node.func
    if isinstance(func, gast.Name):
        return func.id in _LAZY_BUILTINS or func.id == "map" or func.id in _LAZY_ITERTOOLS - {"cycle", "tee"}
    return isinstance(func, gast.Attribute) and func.attr in _LAZY_ITERTOOLS and \
        "itertools" in dotted_name(func).split(".")[:-1]


def _stored_names(st) -> set:
    return {n.id for n in walk_nodes(st) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)}


def _changed_names(stmts: List, modules=frozenset()) -> set:
    """Names the statements rebind, write into (``z[i] = v``, ``o.a = v``) or call a method of
    (``acc.append(v)``, ``rng.normal()``: it may change the object); a function of a module
    (``modules``: the function's global names of modules it does not bind) changes nothing the
    generator reads (``np.sum(v)``), except a random one (``np.random.normal()``, ``random.random()``)."""
    changed = set()
    for st in stmts:
        for n in walk_nodes(st):
            if isinstance(n, gast.Name) and isinstance(n.ctx, (gast.Store, gast.Del)):
                changed.add(n.id)
            elif isinstance(n, (gast.Subscript, gast.Attribute)) and isinstance(n.ctx, (gast.Store, gast.Del)) \
                    or isinstance(n, gast.Call) and isinstance(n.func, gast.Attribute):
                base = n.func.value if isinstance(n, gast.Call) else n.value
                chain = [n.func.attr] if isinstance(n, gast.Call) else []
                while isinstance(base, (gast.Subscript, gast.Attribute)):
                    chain.append(getattr(base, "attr", None))
                    base = base.value
                if isinstance(base, gast.Name) and not (
                        isinstance(n, gast.Call) and base.id in modules and "random" not in chain + [base.id]):
                    changed.add(base.id)
            if isinstance(n, gast.Call):
                changed |= _written_by_call(n)
    return changed


def _written_by_call(n) -> set:
    """The names whose arrays a call writes into: ``np.copyto(z, v)``, ``np.add.at(z, i, v)``
    (its first argument, or what it is a view of: ``z[1:]``), ``f(..., out=z)`` (was: a loop over
    ``(np.sin(v) for v in acc)`` whose body ran ``np.add(acc, u, out=acc)`` or ``np.copyto(acc, ...)``
    was not refused, and its value was that of the items computed first)."""
    written = []
    writer = isinstance(n.func, gast.Attribute) and n.func.attr in _FIRST_ARGUMENT_WRITERS   # (a user's put(): effects)
    if writer and n.args:
        written.append(n.args[0])
    for k in n.keywords:
        if k.arg == "out" or writer and k.arg in ("dst", "a", "arr"):
            written.extend(k.value.elts if isinstance(k.value, (gast.Tuple, gast.List)) else [k.value])
    names = set()
    for w in written:
        while isinstance(w, (gast.Subscript, gast.Attribute, gast.Starred)):
            w = w.value
        if isinstance(w, gast.Name):
            names.add(w.id)
    return names


def _live_views(it, target) -> Dict[str, set]:
    """The names a for loop over ``it`` reads as it goes where sct takes the items first, each with
    the loop's names for the current key: ``d`` of ``d.items()`` (with ``k`` of ``for k, v in``) and
    ``d.values()`` (a dict's views read its values as they are walked), ``xs`` of ``reversed(xs)`` (a
    reverse iterator reads ``xs[i]`` as it goes); inside enumerate() and zip() too."""
    pairs = isinstance(target, (gast.Tuple, gast.List))
    if _call_of(it, "enumerate") and it.args:
        return _live_views(it.args[0], target.elts[1] if pairs and len(target.elts) == 2 else None)
    if _call_of(it, "zip"):
        views: Dict[str, set] = {}
        for j, a in enumerate(it.args):
            part = target.elts[j] if pairs and len(target.elts) == len(it.args) else None
            for name, keys in _live_views(a, part).items():
                views.setdefault(name, set()).update(keys)
        return views
    if _call_of(it, "reversed") and len(it.args) == 1:
        a = it.args[0]
        return {a.id: set()} if isinstance(a, gast.Name) else _live_views(a, None)
    if isinstance(it, gast.Call) and isinstance(it.func, gast.Attribute) and \
            it.func.attr in ("items", "values") and not it.args and isinstance(it.func.value, gast.Name):
        key = target.elts[0] if it.func.attr == "items" and pairs and len(target.elts) == 2 else None
        return {it.func.value.id: {key.id} if isinstance(key, gast.Name) else set()}
    return {}


def _name_aliases(stmts: List) -> Dict[str, set]:
    """For each name, the names the function binds to it or it to them (``e = d``, ``a = b = c``),
    transitively, wherever they are (flow-insensitive: a write through any of them may change it)."""
    groups: Dict[str, set] = {}
    for st in stmts:
        for n in walk_nodes(st):
            if isinstance(n, gast.Assign) and isinstance(n.value, gast.Name):
                names = {n.value.id} | {t.id for t in n.targets if isinstance(t, gast.Name)}
                merged = set(names)
                for name in names:
                    merged |= groups.get(name, set())
                for name in merged:
                    groups[name] = merged
    return {k: v - {k} for k, v in groups.items()}


_VIEW_FUNCTIONS = frozenset({"asarray", "asanyarray", "reshape", "ravel", "transpose", "squeeze", "expand_dims",
                             "atleast_1d", "atleast_2d", "atleast_3d", "swapaxes", "moveaxis", "diagonal",
                             "broadcast_to", "flip", "fliplr", "flipud", "rot90", "real", "imag", "split",
                             "array_split", "hsplit", "vsplit", "dsplit"})


def _view_aliases(stmts: List) -> Dict[str, set]:
    """``_name_aliases`` and, besides, the names bound to what may be a view of another's array
    (``v = acc[1:]``, ``v = acc.T``, ``v = acc.reshape(...)``, ``v = np.asarray(acc)``): a write into
    either changes what the other holds (was: a loop over ``(np.sin(q) for q in v)`` whose body wrote
    ``acc[2] = ...`` was not refused, and its items were those of the old ``acc``)."""
    groups: Dict[str, set] = {}

    def root(e):
        while True:
            if isinstance(e, (gast.Subscript, gast.Attribute, gast.Starred)):
                e = e.value
            elif isinstance(e, gast.Call) and isinstance(e.func, gast.Attribute) and \
                    e.func.attr in _VIEW_FUNCTIONS and e.args and isinstance(e.func.value, gast.Name) and \
                    e.func.value.id in _MODULE_NAMES:
                e = e.args[0]                       # np.reshape(acc, ...)
            elif isinstance(e, gast.Call) and isinstance(e.func, gast.Attribute) and \
                    (e.func.attr in _VIEW_FUNCTIONS or e.func.attr == "view") and \
                    not (isinstance(e.func.value, gast.Name) and e.func.value.id in _MODULE_NAMES):
                e = e.func.value                    # acc.reshape(...), acc.view()
            else:
                return e.id if isinstance(e, gast.Name) else None

    for st in stmts:
        for n in walk_nodes(st):
            if not isinstance(n, gast.Assign):
                continue
            base = root(n.value)
            if base is None:
                continue
            targets = set()
            for t in n.targets:
                for m in gast.walk(t):
                    if isinstance(m, gast.Name) and isinstance(m.ctx, gast.Store):
                        targets.add(m.id)
            merged = {base} | targets
            for name in list(merged):
                merged |= groups.get(name, set())
            for name in merged:
                groups[name] = merged
    return {k: v - {k} for k, v in groups.items()}


#: methods that read a list or dict without changing it
_READING_METHODS = frozenset({"get", "copy", "keys", "values", "items", "count", "index"})


def _written_into(stmts: List, views: Dict[str, set]) -> set:
    """The names of ``views`` the statements write into (``d[k] = v``, ``d[k] += v``, ``del d[k]``,
    ``xs[i].a = v``) or call a method of that may change them (``d.update(...)``, ``xs.sort()``; not
    ``d.get(k)``).  A write of the current key's value (``d[k] = ...`` in ``for k, v in d.items()``,
    ``k`` not rebound) changes no item the loop has still to read."""
    rebound = {n.id for st in stmts for n in walk_nodes(st)
               if isinstance(n, gast.Name) and not isinstance(n.ctx, gast.Load)}
    written = set()
    for st in stmts:
        for n in walk_nodes(st):
            if isinstance(n, (gast.Subscript, gast.Attribute)) and isinstance(n.ctx, (gast.Store, gast.Del)) \
                    or isinstance(n, gast.Call) and isinstance(n.func, gast.Attribute) and \
                    n.func.attr not in _READING_METHODS:
                base = n.func.value if isinstance(n, gast.Call) else n.value
                if isinstance(n, gast.Subscript) and isinstance(n.ctx, gast.Store) and \
                        isinstance(base, gast.Name) and isinstance(n.slice, gast.Name) and \
                        n.slice.id in views.get(base.id, ()) and n.slice.id not in rebound:
                    continue            # d[k] = ... of the current key
                while isinstance(base, (gast.Subscript, gast.Attribute)):
                    base = base.value
                if isinstance(base, gast.Name) and base.id in views:
                    written.add(base.id)
    return written


def _receivers(node) -> set:
    """The names whose methods ``node`` calls (``rng`` of ``rng.normal()``)."""
    return {n.func.value.id for n in gast.walk(node) if isinstance(n, gast.Call) and
            isinstance(n.func, gast.Attribute) and isinstance(n.func.value, gast.Name)}


def _passed_names(stmts: List) -> set:
    """Names the statements give to a call as an argument (``draw(rng)``: it may call rng's methods)."""
    passed = set()
    for st in stmts:
        for n in walk_nodes(st):
            if isinstance(n, gast.Call):
                for a in list(n.args) + [k.value for k in n.keywords]:
                    a = a.value if isinstance(a, gast.Starred) else a
                    if isinstance(a, gast.Name):
                        passed.add(a.id)
    return passed


def _loop_level(node):
    """The nodes of ``node`` outside nested loops and definitions (a ``break`` there is its loop's)."""
    yield node
    if isinstance(node, (gast.For, gast.While, gast.FunctionDef, gast.AsyncFunctionDef, gast.Lambda,
                         gast.ClassDef)):
        return
    for child in gast.iter_child_nodes(node):
        yield from _loop_level(child)


_RESIZING_METHODS = frozenset({"setdefault", "update", "pop", "popitem", "clear", "__setitem__", "__delitem__",
                               "__ior__",
                               # (a set's: for v in S: S.add(...) raises 'Set changed size during iteration')
                               "add", "discard", "remove", "difference_update", "intersection_update",
                               "symmetric_difference_update", "__isub__", "__iand__", "__ixor__"})


def _walked_dict(resized):
    """The expression a dict-size check reads (``_resized_walk``'s answer): the name, or a new copy of
    the item ``d["a"]``."""
    return load(resized) if isinstance(resized, str) else copy.deepcopy(resized)


def _item_path(node) -> Optional[Tuple[str, tuple]]:
    """``d["a"][0]`` as ``("d", ("a", 0))``: a name indexed by constant keys, or by names (``d[name]``:
    ``("d", (("name", "name"),))``, read as the same key wherever the name is not bound again); None for
    anything else."""
    keys = []
    while isinstance(node, gast.Subscript) and (isinstance(node.slice, gast.Constant) and type(
            node.slice.value) in (str, int, bytes) or isinstance(node.slice, gast.Name)):
        keys.append(node.slice.value if isinstance(node.slice, gast.Constant) else ("name", node.slice.id))
        node = node.value
    if not keys or not isinstance(node, gast.Name):
        return None
    return node.id, tuple(reversed(keys))


# builtins that read a dict given to them, never change it (no size check needed for them)
_READING_CALLS = frozenset({"len", "list", "tuple", "sorted", "sum", "min", "max", "print", "isinstance", "str",
                            "repr", "iter", "enumerate", "zip", "any", "all", "dict", "set", "type", "id", "hash"})


def _resized_walk(s: gast.For, builtin_named=None, fdef=None):
    """The name ``d`` of a for loop over ``d``, ``d.keys()``, ``d.values()`` or ``d.items()`` whose body may
    change the size of ``d`` (a write ``d[key] = ...`` by another key than the loop's own, ``del d[...]``,
    ``d.pop(...)``, ``d.setdefault(...)``, ``d.update(...)``, ``d |= ...``; through ``d`` or a second name
    bound to it, ``h = d``, anywhere in ``fdef``), where Python raises RuntimeError at the next item; None
    for any other loop (or one whose body binds ``d`` again).  Of a loop over an item by constant keys,
    ``for k in d["a"]`` (a dict of dicts), the item's expression, where the body writes into nothing
    that holds it (``d`` itself: ``d["a"] = ...``, ``d.pop("a")``), so that reading it again at each
    item reads the dict the loop walks (was: not checked, the loop ran on where Python raises)."""
    it, target = s.iter, s.target
    own = None
    if builtin_named is not None and builtin_named(it, "enumerate") and len(it.args) >= 1 and \
            not isinstance(it.args[0], gast.Starred):
        it = it.args[0]                 # enumerate(d), enumerate(d.items()): the same walk
        target = target.elts[1] if isinstance(target, gast.Tuple) and len(target.elts) == 2 else None
    walked = None
    if isinstance(it, gast.Call) and isinstance(it.func, gast.Attribute) and \
            it.func.attr in ("keys", "values", "items") and not it.args and not it.keywords and \
            (isinstance(it.func.value, gast.Name) or _item_path(it.func.value) is not None):
        walked = it.func.value
        if it.func.attr == "keys" and isinstance(target, gast.Name):
            own = target.id
        elif it.func.attr == "items" and isinstance(target, gast.Tuple) and target.elts and \
                isinstance(target.elts[0], gast.Name):
            own = target.elts[0].id
    elif isinstance(it, gast.Name) or _item_path(it) is not None:
        walked = it
        own = target.id if isinstance(target, gast.Name) else None
    if walked is None:
        return None
    path = _item_path(walked)
    if path is not None and any(isinstance(n, gast.Name) and not isinstance(n.ctx, gast.Load) and
                                ("name", n.id) in path[1] for stmt in s.body + [target] for n in gast.walk(stmt)):
        return None                     # (d[name] with name bound again in the body: another dict at each item)
    name = walked.id if path is None else path[0]
    names = {name} if path is None else set()     # d and the names bound to it (h = d, d = h: either way)
    # (for d["a"]: the names bound to that item, inner = d["a"], and to them)
    pairs = []
    for n in (walk_nodes(fdef) if fdef is not None else ()):
        if not isinstance(n, gast.Assign):
            continue
        v = n.value
        if isinstance(v, gast.Call) and isinstance(v.func, gast.Attribute) and \
                v.func.attr in ("keys", "values", "items") and not v.args and not v.keywords:
            v = v.func.value        # (a view of it, ks = d.keys(): walked, it changes with d)
        if path is not None and _item_path(v) == path:
            names |= {t.id for t in n.targets if isinstance(t, gast.Name)}
        elif isinstance(v, gast.Name):
            pairs += [(t.id, v.id) for t in n.targets if isinstance(t, gast.Name)]
    grown = True
    while grown:
        grown = False
        for a, b in pairs:
            if (a in names) != (b in names) and (a in names or b in names):
                names |= {a, b}
                grown = True

    def the_dict(node) -> bool:
        return isinstance(node, gast.Name) and node.id in names or path is not None and _item_path(node) == path

    def holds_it(node) -> bool:
        """A strict part of the item's path (d, d["a"] of d["a"]["b"]): a write there may replace it."""
        if path is None:
            return False
        if isinstance(node, gast.Name):
            return node.id == path[0]
        found = _item_path(node)
        return found is not None and found[0] == path[0] and len(found[1]) < len(path[1]) and \
            found[1] == path[1][:len(found[1])]

    if path is not None:
        # d["a"] is read again at each item: only where d is used in the body as the base of items read or
        # written (d["a"][k], d["b"]), not given to a call, bound to another name or called a method of
        # (L.insert(0, {}), reset(d): what d["a"] reads may then be another dict than the one walked)
        bases = set()
        for n in (n for stmt in s.body for n in gast.walk(stmt)):
            if isinstance(n, gast.Subscript):
                root = n.value
                while isinstance(root, gast.Subscript):
                    root = root.value
                if isinstance(root, gast.Name):
                    bases.add(id(root))
        if any(isinstance(n, gast.Name) and n.id == path[0] and id(n) not in bases
               for stmt in s.body for n in gast.walk(stmt)):
            return None
    resized = False
    removes_own = stores_own = False    # d.pop(k) and d[k] = ... of the loop's own key k
    # d |= e: the dict's own update in place (was read as d bound again: not checked, the loop ran on)
    merged = {id(n.target) for stmt in s.body for n in gast.walk(stmt)
              if isinstance(n, gast.AugAssign) and isinstance(n.op, (gast.BitOr, gast.Sub, gast.BitAnd, gast.BitXor))
              and the_dict(n.target)}     # (and a set's S |= ..., S -= ...)
    for n in (n for stmt in s.body for n in gast.walk(stmt)):
        if isinstance(n, gast.Name) and n.id == name and not isinstance(n.ctx, gast.Load) and id(n) not in merged:
            return None                 # d bound again: the loop walks the old one
        if own is not None and isinstance(n, gast.Subscript) and the_dict(n.value) and \
                isinstance(n.slice, gast.Name) and n.slice.id == own:
            removes_own = removes_own or isinstance(n.ctx, gast.Del)
            stores_own = stores_own or isinstance(n.ctx, gast.Store)
        if own is not None and isinstance(n, gast.Call) and isinstance(n.func, gast.Attribute) and \
                the_dict(n.func.value) and n.func.attr == "pop" and n.args and \
                isinstance(n.args[0], gast.Name) and n.args[0].id == own:
            removes_own = True
        if isinstance(n, gast.Name) and own is not None and n.id == own and not isinstance(n.ctx, gast.Load):
            own = None                  # the key bound again: d[k] may be a new key
        if isinstance(n, gast.Subscript) and not isinstance(n.ctx, gast.Load) and holds_it(n.value):
            return None                 # d["a"] = ... (or del): the item read again is another dict
        if isinstance(n, gast.Call) and isinstance(n.func, gast.Attribute) and holds_it(n.func.value) and \
                n.func.attr in _RESIZING_METHODS:
            return None
        if isinstance(n, gast.AugAssign) and holds_it(n.target):
            return None
        if isinstance(n, gast.Subscript) and the_dict(n.value):
            if isinstance(n.ctx, gast.Del) or isinstance(n.ctx, gast.Store) and not (
                    isinstance(n.slice, gast.Name) and n.slice.id == own):
                resized = True
        elif isinstance(n, gast.Call) and isinstance(n.func, gast.Attribute) and \
                the_dict(n.func.value) and n.func.attr in _RESIZING_METHODS:
            resized = True
        elif isinstance(n, gast.Call) and not (isinstance(n.func, gast.Name) and n.func.id in _READING_CALLS) and \
                any(the_dict(a.value if isinstance(a, gast.Starred) else a)
                    for a in list(n.args) + [k.value for k in n.keywords]):
            resized = True              # given to a function, which may add or remove keys: add(d, k, v)
        if isinstance(n, gast.AugAssign) and id(n.target) in merged:
            resized = True
        elif isinstance(n, gast.AugAssign) and isinstance(n.target, gast.Name) and n.target.id == name:
            return None
    if not resized:
        return None
    # (`d[k] = d.pop(k) * 2`: the key the loop is at, removed and stored again, goes to the dict's end,
    # where Python's iterator meets it again and raises 'dictionary keys changed during iteration'; the
    # dict's keys read the same in order where it was the last one, so the check at each item cannot see it)
    s.sct_readds_own = removes_own and stores_own and own is not None
    return name if path is None else walked


def _held_iterables(it) -> List:
    """The names (and attributes) a for loop's iterable walks as they are, through enumerate, zip
    and reversed: what may be an iterator the function still holds after the loop."""
    if isinstance(it, (gast.Name, gast.Attribute)):
        return [it]
    if isinstance(it, gast.Call) and isinstance(it.func, gast.Name) and \
            it.func.id in ("enumerate", "zip") and not it.keywords:
        return [h for a in it.args if not isinstance(a, gast.Starred) for h in _held_iterables(a)]
    return []


def _spread(names: set, shares: Optional[Dict[str, set]]) -> set:
    """``names`` with every name that may share their objects (``_view_aliases``)."""
    out = set(names)
    for name in names:
        out |= set((shares or {}).get(name, ()))
    return out


def _check_comprehensions_over_lazy(st, lazy: Dict[str, tuple], fail, modules=frozenset(), effects=None,
                                    shares=None) -> None:
    """Refuse a comprehension over a generator (``[put(d, u) for u in g]``, ``g = (d["a"] * k for k
    in ...)``) whose other parts change what the generator reads: Python computes each of the
    generator's items after the comprehension's element for the one before, sct builds the generator
    whole first (was: silently the items of the old ``d["a"]``)."""
    for n in walk_nodes(st):
        if not isinstance(n, (gast.ListComp, gast.SetComp, gast.DictComp, gast.GeneratorExp)):
            continue
        source = n.generators[0].iter
        parts = _lazy_parts(call("zip", [source]), lazy, modules, effects)
        if not parts:
            continue
        rest = [getattr(n, f) for f in ("elt", "key", "value") if getattr(n, f, None) is not None] + \
            list(n.generators[0].ifs) + [p for g in n.generators[1:] for p in [g.iter] + list(g.ifs)]
        stmts = [gast.Expr(value=r) for r in rest]
        from .alias_state import MUTATORS
        touched = _passed_to_effects(stmts, effects)
        for r in rest:
            for m in gast.walk(r):
                if isinstance(m, gast.Name) and isinstance(m.ctx, gast.Store):      # (v := ...)
                    touched.add(m.id)
                elif isinstance(m, gast.Call):
                    touched |= _written_by_call(m)
                    if isinstance(m.func, gast.Attribute) and (m.func.attr in MUTATORS or m.func.attr in _DRAWS):
                        base = m.func.value
                        while isinstance(base, (gast.Subscript, gast.Attribute)):
                            base = base.value
                        if isinstance(base, gast.Name):
                            touched.add(base.id)
        names_stored = {m.id for r in rest for m in gast.walk(r) if isinstance(m, gast.Name) and
                        isinstance(m.ctx, gast.Store)}
        touched = ((_spread(touched - names_stored, shares)) | names_stored) - set(modules) - _MODULE_NAMES
        for name, reads, receivers, drawing, eager in parts:
            if isinstance(source, gast.GeneratorExp) or _is_map(source):
                name = "the generator expression it walks" if isinstance(source, gast.GeneratorExp) else "map()"
            changed = (touched & (reads | eager)) | (_passed_names(stmts) & receivers)
            if changed:
                fail(n, "a comprehension over a generator whose element changes what the generator reads",
                     f"{name} computes its items as the comprehension asks for them, and its element changes "
                     f"{', '.join(sorted(changed))} before the next one; sct would compute them all first. "
                     f"Write a for loop over the generator's own iterable (for t in ...: v = ...)")


def _passed_to_effects(stmts: List, effects) -> set:
    """Names the statements give (or whose items or fields they give) to a call that ``effects`` says
    may change what its caller sees: ``put(d, v)`` of a ``def put(d, v): d["a"] = v`` (was: a loop over
    ``(d["a"] * k for k in ...)`` whose body ran ``z = put(d, ...)`` was not refused, and its items
    were those of the old ``d["a"]``)."""
    passed = set()
    if effects is None:
        return passed
    for st in stmts:
        for n in walk_nodes(st):
            if isinstance(n, gast.Call) and effects(n):
                for a in list(n.args) + [k.value for k in n.keywords]:
                    a = a.value if isinstance(a, gast.Starred) else a
                    while isinstance(a, (gast.Subscript, gast.Attribute)):
                        a = a.value
                    if isinstance(a, gast.Name):
                        passed.add(a.id)
    return passed


def _has_own_break(stmts: List) -> bool:
    for st in stmts:
        if isinstance(st, gast.Break):
            return True
        if isinstance(st, (gast.For, gast.While, gast.AsyncFor)):
            if _has_own_break(st.orelse):
                return True
            continue
        if isinstance(st, (gast.FunctionDef, gast.AsyncFunctionDef, gast.ClassDef)):
            continue
        for field in ("body", "orelse", "finalbody"):
            if isinstance(getattr(st, field, None), list) and _has_own_break(getattr(st, field)):
                return True
        for h in getattr(st, "handlers", None) or ():
            if _has_own_break(h.body):
                return True
    return False


def _lazy_loop(st: gast.For, namer, fail) -> Optional[List]:
    """The statements Python runs for ``st`` when it walks a generator expression or map();
    None for any other loop."""
    it = st.iter
    if isinstance(it, gast.GeneratorExp):
        if any(g.is_async for g in it.generators):
            return None
        for n in gast.walk(it):
            if isinstance(n, gast.NamedExpr):
                return None                 # (refused where the comprehension is lowered)
        if len(it.generators) > 1 and _has_own_break(st.body):
            fail(st, "break in a loop over a generator expression with more than one for",
                 "write the generator's loops out, with a flag to leave them")
        it = copy.deepcopy(it)
        mapping: Dict[str, str] = {}
        for i, gen in enumerate(it.generators):
            if i > 0:
                gen.iter = _rename_loads(gen.iter, mapping)
            for n in gast.walk(gen.target):
                if isinstance(n, gast.Name):
                    mapping[n.id] = namer.fresh(n.id)
            gen.target = _rename_stores(gen.target, mapping)
            gen.ifs = [_rename_loads(c, mapping) for c in gen.ifs]
        item = gast.copy_location(gast.Assign(targets=[st.target], value=_rename_loads(it.elt, mapping),
                                              type_comment=None), st)
        inner: List = [item] + st.body
        for gen in reversed(it.generators):
            for cond in reversed(gen.ifs):
                inner = [gast.copy_location(gast.If(test=cond, body=inner, orelse=[]), st)]
            inner = [gast.copy_location(gast.For(target=gen.target, iter=gen.iter, body=inner, orelse=[],
                                                 type_comment=None), st)]
        inner[0].orelse = st.orelse
        return inner
    if _call_of(it, "enumerate") and it.args and _lazy_iterator(it.args[0]) and \
            len(it.args) + len(it.keywords) <= 2 and all(k.arg == "start" for k in it.keywords) and \
            not any(isinstance(a, gast.Starred) for a in it.args):
        # enumerate(G, start): a counter beside the loop over G (lowered in turn), counted before
        # the body runs (a continue leaves it counted)
        counter, item = namer.fresh("count"), namer.fresh("item")
        start = it.args[1] if len(it.args) > 1 else it.keywords[0].value if it.keywords else const(0)
        pair = gast.copy_location(gast.Assign(
            targets=[st.target], value=gast.Tuple(elts=[load(counter), load(item)], ctx=gast.Load()),
            type_comment=None), st)
        step = gast.copy_location(assign(counter, gast.BinOp(left=load(counter), op=gast.Add(),
                                                             right=const(1))), st)
        loop = gast.copy_location(gast.For(target=store(item), iter=it.args[0], body=[pair, step] + st.body,
                                           orelse=st.orelse, type_comment=None), st)
        return [gast.copy_location(assign(counter, start), st), loop]
    if _is_map(it):
        before: List = []
        func = it.args[0]
        root = func
        while isinstance(root, gast.Attribute):
            root = root.value
        if not (isinstance(root, gast.Name) and
                root.id not in _stored_names(gast.Module(body=st.body, type_ignores=[]))):
            name = namer.fresh("mapped_function")       # map(F, ...) evaluates F once, first
            before.append(gast.copy_location(assign(name, func), st))
            func = load(name)
        names = [namer.fresh("item") for _ in it.args[1:]]
        target = store(names[0]) if len(names) == 1 else \
            gast.Tuple(elts=[store(n) for n in names], ctx=gast.Store())
        source = it.args[1] if len(names) == 1 else call("zip", it.args[1:])
        item = gast.copy_location(gast.Assign(
            targets=[st.target], value=gast.Call(func=func, args=[load(n) for n in names], keywords=[]),
            type_comment=None), st)
        loop = gast.copy_location(gast.For(target=target, iter=source, body=[item] + st.body,
                                           orelse=st.orelse, type_comment=None), st)
        return before + [loop]
    return None


# --- next() of a generator expression ----------------------------------------------------------
# sct builds a generator expression whole, as a list, which next() cannot take.  ``v = next(G)`` and
# ``v = next(G, d)`` with G a generator expression written in the call are the loop Python runs:
# G's own loop, left at its first item (what next consumes; later items are never computed).
# Any other next() of a generator (one bound to a name, one inside a larger expression) is refused.

_PURE_ITERABLES = {"range", "len", "enumerate", "zip", "reversed", "sorted", "list", "tuple"}


def _is_next_call(node) -> bool:
    return isinstance(node, gast.Call) and isinstance(node.func, gast.Name) and node.func.id == "next"


def _impure_calls(node) -> bool:
    return any(isinstance(n, gast.Call) and not (isinstance(n.func, gast.Name) and n.func.id in _PURE_ITERABLES)
               for n in gast.walk(node))


def maps_given_to_next(stmts: List, namer, is_builtin) -> None:
    """``next(map(f, a, b))`` -> ``next((f(u, v) for u, v in zip(a, b)))`` in place (Python's map is the
    same lazy walk), which lower_next_of_generators then reads as the loop Python runs (was: map built
    whole as a list, and next() of the list a TypeError in a valid program)."""
    hits = [n for st in stmts for n in walk_nodes(st)
            if _is_next_call(n) and n.args and _is_map(n.args[0])]
    if not hits or not is_builtin("map") or not is_builtin("next"):
        return
    from .normalize_exprs import map_comprehension
    for n in hits:
        m = n.args[0]
        gen = map_comprehension(m, namer, gast.GeneratorExp)
        for node in gast.walk(gen):
            if isinstance(node, (gast.expr, gast.stmt)) and not hasattr(node, "lineno"):
                gast.copy_location(node, m)
        gen.sct_written_map = True      # (named so in a refusal: the user wrote next(map(...)))
        n.args[0] = gast.copy_location(gen, m)


def lower_next_of_generators(stmts: List, namer, fail, generators: Optional[set] = None) -> List:
    """``v = next((E for t in I if C))`` -> ``found = False; for item in (E for t in I if C): found = True;
    break`` then ``v = item`` (``raise StopIteration`` where nothing was found, or ``v = d`` for
    ``next(G, d)``), in ``stmts`` and the blocks inside them (not nested defs); the loop is then
    lowered as any loop over a generator.  ``generators``: the names bound to a generator expression
    anywhere in the function (next() of one is refused)."""
    if generators is None:      # (map() bound to a name is a generator too: check_generators_used_once)
        generators = {t.id for st in stmts for n in walk_nodes(st) if isinstance(n, gast.Assign)
                      and (isinstance(n.value, gast.GeneratorExp) or _is_map(n.value))
                      for t in n.targets if isinstance(t, gast.Name)}
    result: List = []
    for st in stmts:
        if isinstance(st, (gast.FunctionDef, gast.AsyncFunctionDef, gast.ClassDef)):
            result.append(st)
            continue
        hoisted = _hoist_next(st, namer)
        if hoisted is not None:
            result.extend(lower_next_of_generators(hoisted, namer, fail, generators))
            continue
        for field in ("body", "orelse", "finalbody"):
            if isinstance(getattr(st, field, None), list):
                setattr(st, field, lower_next_of_generators(getattr(st, field), namer, fail, generators))
        for field in ("handlers", "cases"):
            for h in getattr(st, field, None) or ():
                h.body = lower_next_of_generators(h.body, namer, fail, generators)
        whole = isinstance(st, gast.Assign) and len(st.targets) == 1 and isinstance(st.targets[0], gast.Name) \
            and _is_next_call(st.value) and not st.value.keywords and 1 <= len(st.value.args) <= 2 \
            and isinstance(st.value.args[0], gast.GeneratorExp)
        for n in walk_nodes(st):
            if not _is_next_call(n) or not n.args or whole and n is st.value:
                continue
            arg = n.args[0]
            if isinstance(arg, gast.Name) and arg.id in generators:
                fail(n, f"next() of the generator {arg.id}",
                     f"sct builds a generator expression whole (a list), so next({arg.id}) cannot take its items "
                     f"one at a time. Write the generator in the call, v = next((... for ...), default), once per "
                     f"item wanted, or index a list: items = [... for ...]; v = items[0]")
            if isinstance(arg, gast.GeneratorExp):
                written = "next(map(...))" if getattr(arg, "sct_written_map", False) else \
                    "next() of a generator expression"
                fail(n, f"{written} inside a larger expression (a condition, an `and`/`or`, a comparison, or "
                        f"after a call it would run before)",
                     "assign it first, on a line of its own: v = " +
                     ("next(map(f, xs), default)" if written.startswith("next(map") else "next((... for ...), default)") +
                     ", then use v")
        if not whole:
            result.append(st)
            continue
        gen, default = st.value.args[0], (st.value.args[1] if len(st.value.args) == 2 else None)
        if len(gen.generators) > 1:
            fail(st.value, "next() of a generator expression with more than one for",
                 "write the generator's loops out, with a flag to leave them at the first item")
        before: List = []
        if default is not None and _impure_calls(default):
            if _impure_calls(gen.generators[0].iter):
                fail(st.value, "next(generator, default) whose iterable and default both call functions",
                     "compute the default on the line before (d = ...; v = next((... for ...), d))")
            name = namer.fresh("next_default")      # Python evaluates the default whether it is used or not
            before.append(gast.copy_location(assign(name, default), st))
            default = load(name)
        found, item = namer.fresh("next_found"), namer.fresh("next_item")
        target = st.targets[0].id
        loop = gast.For(target=store(item), iter=gen, body=[assign(found, const(True)), gast.Break()],
                        orelse=[], type_comment=None)
        missing = [gast.Raise(exc=gast.Name(id="StopIteration", ctx=gast.Load(), annotation=None,
                                            type_comment=None), cause=None)] \
            if default is None else [assign(target, default)]
        pick = gast.If(test=load(found), body=[assign(target, load(item))], orelse=missing)
        out = before + [assign(found, const(False)), loop, pick]
        for node in out:
            for n in gast.walk(node):
                if isinstance(n, (gast.stmt, gast.expr)) and not hasattr(n, "lineno"):
                    gast.copy_location(n, st)
            gast.copy_location(node, st)
        result.extend(out)
    return result


def lower_named_generators(stmts: List, namer, rt_name: str, params=()) -> List:
    """``g = (E for t in I if C)`` read only by ``v = next(g)`` / ``v = next(g, d)`` / ``next(g)`` statements
    (``g`` bound once, not a parameter, not read by a nested function): the generator Python runs, by position.
    Its iterable is evaluated where it is created (``g_seq = rt.as_sequence(I)``, as a for loop walks it:
    a list, tuple or array itself, read at each step, so a change to it between the next() calls is seen as
    Python's iterator sees it); each next() goes on from where the last stopped (``g_pos``), computing the
    items it passes over no further than their conditions and only the one it returns (E and C read the
    names they read when next() runs: Python evaluates them then), with the generator's own names for its
    loop variables; ``StopIteration`` (or ``d``) once it is exhausted, for good (``g_live``), as Python's.
    Any other use of such a name is left to ``lower_next_of_generators`` (refused there)."""
    from .ir import walk_no_defs
    bindings: Dict[str, List] = {}
    for st in stmts:
        if isinstance(st, _DEFS):
            continue
        for n in walk_no_defs(st):
            if isinstance(n, gast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], gast.Name) and \
                    isinstance(n.value, gast.GeneratorExp):
                bindings.setdefault(n.targets[0].id, []).append(n)
    if not bindings:
        return stmts
    plans: Dict[str, dict] = {}
    for name, found in bindings.items():
        if len(found) != 1 or name in params:
            continue
        gen = found[0].value
        if len(gen.generators) != 1 or gen.generators[0].is_async or \
                not _plain_target(gen.generators[0].target) or \
                any(isinstance(n, (gast.NamedExpr, gast.Yield, gast.YieldFrom, gast.Await)) for n in gast.walk(gen)):
            continue
        if any(isinstance(n, gast.GeneratorExp) or isinstance(n, gast.Name) and n.id in bindings or
               isinstance(n, gast.Call) and isinstance(n.func, gast.Name) and n.func.id in _LAZY_CALLS
               for n in gast.walk(gen.generators[0].iter)):
            continue            # (an iterable Python computes item by item: sct would compute it whole)
        if _reads_only_by_next(stmts, name, found[0]):
            plans[name] = {"binding": found[0]}
    if not plans:
        return stmts
    for name, plan in plans.items():
        comp = plan["binding"].value.generators[0]
        parts: List = []
        _generator_parts(comp.iter, comp.target, parts)
        plan["parts"] = [namer.fresh(name + ("_seq" if kind == "seq" else "_start")) for kind, _, _ in parts]
        plan["pos"] = namer.fresh(name + "_pos")
        plan["live"] = namer.fresh(name + "_live")
    return _lower_generator_block(stmts, plans, namer, rt_name)


_DEFS = (gast.FunctionDef, gast.AsyncFunctionDef, gast.ClassDef)
_LAZY_CALLS = frozenset({"map", "filter", "iter", "reversed"})


def _generator_parts(it, target, parts: List) -> None:
    """What the generator's ``for target in it`` walks by position, in the order Python evaluates it:
    ``("seq", target, iterable)`` for a sequence, ``("index", target, start)`` for enumerate's count;
    enumerate and zip (nested in each other too) are taken apart, as a for loop's (``Loops.walked``)."""
    if isinstance(it, gast.Call) and isinstance(it.func, gast.Name) and it.func.id == "enumerate" and \
            isinstance(target, gast.Tuple) and len(target.elts) == 2 and 1 <= len(it.args) <= 2 and \
            not it.keywords and not any(isinstance(a, gast.Starred) for a in it.args):
        _generator_parts(it.args[0], target.elts[1], parts)      # (evaluated before start)
        parts.append(("index", target.elts[0], it.args[1] if len(it.args) == 2 else const(0)))
    elif isinstance(it, gast.Call) and isinstance(it.func, gast.Name) and it.func.id == "zip" and \
            not it.keywords and it.args and isinstance(target, gast.Tuple) and len(target.elts) == len(it.args) \
            and not any(isinstance(a, gast.Starred) for a in it.args):
        for a, t in zip(it.args, target.elts):
            _generator_parts(a, t, parts)
    else:
        parts.append(("seq", target, it))


def _plain_target(target) -> bool:
    if isinstance(target, gast.Name):
        return True
    return isinstance(target, (gast.Tuple, gast.List)) and all(_plain_target(e) for e in target.elts)


def _next_of(node, name: str) -> bool:
    """Is ``node`` ``next(name)`` or ``next(name, d)``?"""
    return _is_next_call(node) and not node.keywords and 1 <= len(node.args) <= 2 and \
        isinstance(node.args[0], gast.Name) and node.args[0].id == name and \
        not any(isinstance(a, gast.Starred) for a in node.args)


def _next_statement(st, name: str) -> bool:
    """``v = next(name[, d])`` (v a name other than ``name``) or ``next(name[, d])`` as a statement."""
    if isinstance(st, gast.Expr):
        return _next_of(st.value, name)
    return isinstance(st, gast.Assign) and len(st.targets) == 1 and isinstance(st.targets[0], gast.Name) and \
        st.targets[0].id != name and _next_of(st.value, name)


def _reads_only_by_next(stmts: List, name: str, binding) -> bool:
    """Is every occurrence of ``name`` in the function (nested functions and lambdas included) its one
    binding or the generator read by a whole next() statement of the function's own code (whose default
    does not read it), with one such statement at least?"""
    from .ir import walk_no_defs
    allowed = {id(binding.targets[0])}
    for st in stmts:
        if isinstance(st, _DEFS):
            continue
        for n in walk_no_defs(st):
            if isinstance(n, gast.stmt) and _next_statement(n, name):
                allowed.add(id(n.value.args[0]))
    if len(allowed) == 1:
        return False            # (no next(): left as it was)
    for st in stmts:
        for n in gast.walk(st):
            if isinstance(n, gast.Name) and n.id == name and id(n) not in allowed:
                return False
            if isinstance(n, (gast.Global, gast.Nonlocal)) and name in n.names:
                return False
    return True


def _lower_generator_block(stmts: List, plans: Dict[str, dict], namer, rt_name: str) -> List:
    out: List = []
    for st in stmts:
        if isinstance(st, (gast.FunctionDef, gast.AsyncFunctionDef, gast.ClassDef)):
            out.append(st)
            continue
        for field in ("body", "orelse", "finalbody"):
            if isinstance(getattr(st, field, None), list):
                setattr(st, field, _lower_generator_block(getattr(st, field), plans, namer, rt_name))
        for field in ("handlers", "cases"):
            for h in getattr(st, field, None) or ():
                h.body = _lower_generator_block(h.body, plans, namer, rt_name)
        made = None
        for name, plan in plans.items():
            if st is plan["binding"]:
                comp = st.value.generators[0]
                parts: List = []
                _generator_parts(comp.iter, comp.target, parts)
                made = []
                for held, (kind, _, value) in zip(plan["parts"], parts):
                    made.append(assign(held, value))
                    if kind == "seq":   # (walked by position, as a list, tuple or array is: else refused)
                        made.append(gast.Expr(value=call(f"{rt_name}.walks_by_position", [load(held)])))
                        made.append(assign(held, call(f"{rt_name}.as_sequence", [load(held)])))
                made += [assign(plan["pos"], const(0)), assign(plan["live"], const(True))]
            elif _next_statement(st, name):
                made = _next_steps(st, plan, namer)
            if made is not None:
                break
        if made is None:
            out.append(st)
            continue
        for node in made:
            for n in gast.walk(node):
                if isinstance(n, (gast.stmt, gast.expr)) and not hasattr(n, "lineno"):
                    gast.copy_location(n, st)
            gast.copy_location(node, st)
        out.extend(made)
    return out


def _next_steps(st, plan: dict, namer) -> List:
    """The statements of one ``v = next(g[, d])`` (see ``lower_named_generators``)."""
    gen = copy.deepcopy(plan["binding"].value)
    comp = gen.generators[0]
    mapping: Dict[str, str] = {}
    for n in gast.walk(comp.target):
        if isinstance(n, gast.Name):
            mapping.setdefault(n.id, namer.fresh(n.id))
    parts: List = []
    _generator_parts(comp.iter, _rename_stores(comp.target, mapping), parts)
    conditions = [_rename_loads(c, mapping) for c in comp.ifs]
    element = _rename_loads(gen.elt, mapping)
    call_node = st.value
    default = call_node.args[1] if len(call_node.args) == 2 else None
    before: List = []
    if default is not None and not isinstance(default, gast.Constant):
        held = namer.fresh("next_default")      # next's arguments are evaluated before it runs
        before.append(assign(held, default))
        default = load(held)
    found = namer.fresh("next_found")
    value = st.targets[0].id if isinstance(st, gast.Assign) else namer.fresh("next_item")
    pos, live = plan["pos"], plan["live"]
    take = [assign(value, element), assign(found, const(True)), gast.Break()]
    if conditions:
        test = conditions[0] if len(conditions) == 1 else gast.BoolOp(op=gast.And(), values=conditions)
        take = [gast.If(test=test, body=take, orelse=[])]
    body: List = []
    more: List = [load(live)]
    for held, (kind, target, _) in zip(plan["parts"], parts):
        if kind == "seq":
            item = gast.Subscript(value=load(held), slice=load(pos), ctx=gast.Load())
            more.append(gast.Compare(left=load(pos), ops=[gast.Lt()], comparators=[call("len", [load(held)])]))
        else:
            item = gast.BinOp(left=load(held), op=gast.Add(), right=load(pos))
        body.append(gast.Assign(targets=[target], value=item, type_comment=None))
    body += [assign(pos, gast.BinOp(left=load(pos), op=gast.Add(), right=const(1)))] + take
    more = gast.BoolOp(op=gast.And(), values=more)
    loop = gast.While(test=more, body=body, orelse=[])
    stop = gast.Raise(exc=gast.Name(id="StopIteration", ctx=gast.Load(), annotation=None, type_comment=None),
                      cause=None)
    missing = [assign(live, const(False))] + ([stop] if default is None else
                                              [assign(value, default)] if isinstance(st, gast.Assign) else [])
    after = gast.If(test=gast.UnaryOp(op=gast.Not(), operand=load(found)), body=missing, orelse=[])
    return before + [assign(found, const(False)), loop, after]


def _hoist_next(st, namer) -> Optional[List]:
    """``y = next(G, d) ** 2`` -> ``v = next(G, d); y = v ** 2`` where the call is reached through
    operators, tuples, subscripts and the arguments of calls of a named function (``np.sum(next(G))``,
    ``float(next(map(f, xs))) * 2 + np.sum(x)``), so evaluated unconditionally, and what the statement
    evaluates before it calls nothing (so evaluating next first changes nothing: what comes after it,
    and the calls around it, run after it as before); None otherwise."""
    if not isinstance(st, (gast.Assign, gast.AugAssign, gast.Return, gast.Expr)) or st.value is None:
        return None
    if isinstance(st, gast.Assign) and len(st.targets) == 1 and isinstance(st.targets[0], gast.Name) \
            and _is_next_call(st.value):
        return None

    def named(func) -> bool:
        while isinstance(func, gast.Attribute):
            func = func.value
        return isinstance(func, gast.Name)

    def find(node, parent, field, index, before):
        """The next() calls of generators in ``node``, each with where it sits and the expressions
        Python evaluates before it (``before``)."""
        if _is_next_call(node) and node.args and isinstance(node.args[0], gast.GeneratorExp):
            return [(node, parent, field, index, before)]
        if isinstance(node, gast.BinOp):
            return find(node.left, node, "left", None, before) + \
                find(node.right, node, "right", None, before + [node.left])
        if isinstance(node, gast.UnaryOp):
            return find(node.operand, node, "operand", None, before)
        if isinstance(node, gast.Subscript):
            return find(node.value, node, "value", None, before) + \
                find(node.slice, node, "slice", None, before + [node.value])
        if isinstance(node, (gast.Tuple, gast.List)):
            return [hit for i, e in enumerate(node.elts) for hit in find(e, node, "elts", i, before + node.elts[:i])]
        if isinstance(node, gast.Call) and named(node.func) and not _is_next_call(node) and \
                not any(isinstance(a, gast.Starred) for a in node.args) and \
                all(k.arg is not None for k in node.keywords):
            return [hit for i, a in enumerate(node.args)
                    for hit in find(a, node, "args", i, before + [node.func] + node.args[:i])] + \
                [hit for j, k in enumerate(node.keywords)
                 for hit in find(k.value, k, "value", None, before + [node.func] + node.args +
                                 [e.value for e in node.keywords[:j]])]
        return []

    # (an augmented assignment evaluates its target's parts first: d[f()] += next(G))
    hits = find(st.value, st, "value", None, [st.target] if isinstance(st, gast.AugAssign) else [])
    del find        # (a recursive closure: freed now rather than by the cyclic collector)
    if len(hits) != 1:
        return None
    node, parent, field, index, before = hits[0]
    for part in before:
        for n in gast.walk(part):
            if isinstance(n, (gast.NamedExpr, gast.Lambda, gast.GeneratorExp, gast.ListComp, gast.SetComp,
                              gast.DictComp, gast.Yield, gast.YieldFrom, gast.Await)) or \
                    isinstance(n, gast.Call) and not (isinstance(n.func, gast.Name) and n.func.id in _PURE_ITERABLES):
                return None
    name = namer.fresh("next_value")
    first = gast.copy_location(assign(name, node), st)
    if index is None:
        setattr(parent, field, load(name))
    else:
        getattr(parent, field)[index] = load(name)
    return [first, st]


# --- generators used once ------------------------------------------------------------------------
# sct builds a generator expression (and map()) whole, as a list, where Python's generator yields
# each item once: a second walk of it finds nothing (``for v in gen`` twice, ``sum(gen)`` after a
# loop over it, ``zip(gen, gen)``, the loop inside another loop, a helper walking its argument twice).
# The list would give the items again: such programs are refused.

_CONSUMERS = frozenset({"sum", "list", "tuple", "sorted", "min", "max", "any", "all", "set", "frozenset",
                        "dict", "enumerate", "zip", "map", "filter", "reversed", "len", "iter", "next",
                        "reduce", "print"})


def _unwalked_advice(taker: str) -> str:
    if taker == "len()":
        return ("Python's len() of a generator (or map()) raises TypeError: it has no length; sct builds it "
                "as a list, whose len() would be a number. Make it a list ([... for ...]) first")
    return (f"numpy does not walk a generator (or map()): {taker} takes it as one object (np.all(...) and "
            "np.any(...) of one are True whatever its items, np.stack(...) and np.concatenate(...) raise "
            "TypeError), where sct, building it as a list, would compute the list's answer. Pass a list "
            "([... for ...]), or np.fromiter(...) of it")


# functions that write into their first argument (np.copyto(z, v), np.add.at(z, i, v))
_FIRST_ARGUMENT_WRITERS = frozenset({"copyto", "put", "place", "putmask", "fill_diagonal", "put_along_axis", "at"})


def _may_share(stmts: List, local_names) -> Dict[str, set]:
    """For each local name, the local names that may hold the same object or a view of it (or an
    object holding it): a name bound from an expression reading another one (``c = z``,
    ``w = z[1:]``, ``v = z.reshape(...)``, ``lst = [z]``, ``for row in m``) shares with it, and
    so on transitively.  Coarse on purpose: it only widens a refusal."""
    parent: Dict[str, str] = {}

    def find(a):
        while parent.get(a, a) != a:
            a = parent[a]
        return a

    def union(names):
        names = [n for n in names if n in local_names]
        for a, b in zip(names, names[1:]):
            ra, rb = find(a), find(b)
            if ra != rb:
                parent[ra] = rb

    def loaded(node):
        """The names whose object ``node``'s value may be, hold or view (not the operands of
        arithmetic, a new object; a call's arguments and receiver may come back: np.asarray(z))"""
        if node is None:
            return []
        if isinstance(node, gast.Name):
            return [node.id] if isinstance(node.ctx, gast.Load) else []
        if isinstance(node, (gast.Subscript, gast.Attribute, gast.Starred)):
            return loaded(node.value)
        if isinstance(node, gast.Call):
            func = loaded(node.func.value) if isinstance(node.func, gast.Attribute) else []
            return func + [m for a in node.args for m in loaded(a)] + \
                [m for k in node.keywords for m in loaded(k.value)]
        if isinstance(node, (gast.Tuple, gast.List, gast.Set)):
            return [m for e in node.elts for m in loaded(e)]
        if isinstance(node, gast.Dict):
            return [m for e in node.values for m in loaded(e)]
        if isinstance(node, gast.IfExp):
            return loaded(node.body) + loaded(node.orelse)
        if isinstance(node, gast.BoolOp):
            return [m for e in node.values for m in loaded(e)]
        if isinstance(node, gast.NamedExpr):
            return loaded(node.value)
        if isinstance(node, (gast.ListComp, gast.SetComp, gast.GeneratorExp, gast.DictComp)):
            return [m for gen in node.generators for m in loaded(gen.iter)]      # [r for r in m]: rows of m
        return []

    def stored(node):
        return [n.id for n in gast.walk(node) if isinstance(n, gast.Name) and not isinstance(n.ctx, gast.Load)]

    for st in stmts:
        for n in gast.walk(st):
            if isinstance(n, gast.Assign):
                union([m for t in n.targets for m in stored(t)] + loaded(n.value))
            elif isinstance(n, (gast.AnnAssign, gast.AugAssign)) and n.value is not None:
                union(stored(n.target) + loaded(n.value))
            elif isinstance(n, gast.NamedExpr):
                union(stored(n.target) + loaded(n.value))
            elif isinstance(n, (gast.For, gast.AsyncFor, gast.comprehension)):
                union(stored(n.target) + loaded(n.iter))
            elif isinstance(n, gast.withitem) and n.optional_vars is not None:
                union(stored(n.optional_vars) + loaded(n.context_expr))
    groups: Dict[str, set] = {}
    for a in local_names:
        groups.setdefault(find(a), set()).add(a)
    return {a: groups[find(a)] for a in local_names}


def rebuild_same_type(stmts: List, rt_name: str) -> None:
    """``type(params)(p - lr * g for p, g in zip(params, grads))``: a list or tuple of the input's type
    rebuilt from a generator, which list() and tuple() walk once, whole, as the list comprehension sct
    builds: ``rt.sequence_type(params)([...])``, the run checking that ``params`` is a list or tuple
    (another class's constructor may keep the generator or walk it twice: refused there) (was: refused
    as a generator expression passed to a helper).  Only where ``type`` is the builtin."""
    for st in stmts:
        for node in walk_nodes(st):
            if isinstance(node, gast.Call) and len(node.args) == 1 and not node.keywords and \
                    isinstance(node.args[0], gast.GeneratorExp) and isinstance(node.func, gast.Call) and \
                    isinstance(node.func.func, gast.Name) and node.func.func.id == "type" and \
                    len(node.func.args) == 1 and not node.func.keywords and \
                    not isinstance(node.func.args[0], gast.Starred):
                gen = node.args[0]
                node.func = call(f"{rt_name}.sequence_type", [node.func.args[0]])
                node.args = [gast.ListComp(elt=gen.elt, generators=gen.generators)]
                gast.copy_location(node.args[0], gen)


def check_generators_used_once(stmts: List, fail, params=(), consumers=None, unwalked=None,
                               may_change=None) -> None:
    """Refuse a name bound to a generator expression or map() that the function may walk more
    than once: read twice before the name is bound again, read in a loop (or a comprehension's
    later part, a lambda, a nested def) that does not hold the binding, or handed on where sct cannot
    see how often it is walked (a helper, a container, another name, a return); a generator
    expression passed straight to a helper (not a builtin); and a generator given to what does not
    walk it (``unwalked(call)`` names it: ``len()``, a numpy function other than ``np.fromiter``, for
    which a generator is one object, ``np.all(v > 0 for v in x)`` always True, or an error)."""
    # every refusal below is of a generator expression or of a name bound to one or to map(): none
    # anywhere (most functions), nothing to look at (one walk, not the events of every node)
    GeneratorExp, Call = gast.GeneratorExp, gast.Call
    if not any(isinstance(n, GeneratorExp) or isinstance(n, Call) and (_is_map(n) or _stored_iterator(n))
               for st in stmts for n in walk_nodes(st)):
        return
    if consumers is None:   # the builtins that walk a generator given to them once (those the caller's
        consumers = _CONSUMERS      # module or function does not name again: a module's `def sum(g)`)
    events: List[tuple] = []          # (kind, name, node, loops, how): kind 'lazy'/'store'/'load'/'change'/'passed'
    # the function's own names (its objects: rng.normal() changes rng; np.sum() leaves np as it is)
    local_names = set(params) | {n.id for st in stmts for n in walk_nodes(st)
                                 if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)}

    def visit(node, loops: tuple, how: str, nested: bool):
        if isinstance(node, (gast.FunctionDef, gast.AsyncFunctionDef, gast.Lambda)):
            if not isinstance(node, gast.Lambda):
                for d in node.decorator_list:
                    visit(d, loops, "other", nested)
            defaults = node.args.defaults + [d for d in node.args.kw_defaults if d is not None]
            for d in defaults:
                visit(d, loops, "other", nested)
            body = node.body if isinstance(node.body, list) else [node.body]
            for b in body:
                visit(b, loops + (node,), "other", True)
            return
        if isinstance(node, gast.ClassDef):
            return
        if isinstance(node, gast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], gast.Name) \
                and (_lazy_iterator(node.value) or _stored_iterator(node.value)):
            visit(node.value, loops, "iter", nested)
            own = {n.id for n in gast.walk(node.value) if isinstance(n, gast.Name) and not isinstance(n.ctx, gast.Load)}
            # (filter(), enumerate(), zip(), itertools' iterators: only what runs before the walk is
            # checked, the walks themselves as before)
            events.append(("lazy", node.targets[0].id, node, loops, nested,
                           {n.id for n in gast.walk(node.value) if isinstance(n, gast.Name) and
                            isinstance(n.ctx, gast.Load)} - own, _receivers(node.value) & local_names,
                           not _lazy_iterator(node.value)))
            return
        if isinstance(node, gast.Assign) and len(node.targets) > 1 and _lazy_iterator(node.value):
            # ``a, b = it = map(f, xs)``: the unpacking walks the iterator, the name holds it empty
            # (was: the name held the list sct builds, its items walked again)
            fail(node, "a generator or map() assigned to more than one target",
                 "sct builds it whole, as a list, where Python's iterator is walked once (the next "
                 "target finds it empty): assign list(...) of it, or assign it to one target")
        if isinstance(node, gast.Assign) and len(node.targets) == 1 and \
                isinstance(node.targets[0], (gast.Tuple, gast.List)) and isinstance(node.value, gast.GeneratorExp) \
                and all(_finite_walk(gen.iter) for gen in node.value.generators):
            # ``i, f, o, g = (z[k] for k in range(4))``: the unpacking walks the generator once, whole,
            # before it stores a target, as the list sct builds is walked (was refused as "kept in a
            # container or handed on").  Only over what ends (range, displays, containers): Python's
            # unpacking stops one item past the targets, sct's list would walk itertools.count() forever
            visit(node.value, loops, "iter", nested)
            visit(node.targets[0], loops, "other", nested)
            return
        if isinstance(node, (gast.Subscript, gast.Attribute)) and isinstance(node.ctx, (gast.Store, gast.Del)):
            base = node.value
            while isinstance(base, (gast.Subscript, gast.Attribute)):
                base = base.value
            if isinstance(base, gast.Name):
                events.append(("change", base.id, node, loops, nested))
        if isinstance(node, gast.Name):
            if isinstance(node.ctx, gast.Load):
                events.append(("load", node.id, node, loops, "nested" if nested else how))
            else:
                events.append(("store", node.id, node, loops, nested))
            return
        if isinstance(node, (gast.For, gast.AsyncFor)):
            visit(node.iter, loops, "iter", nested)
            for part in [node.target] + node.body:
                visit(part, loops + (node,), "other", nested)
            for part in node.orelse:
                visit(part, loops, "other", nested)
            return
        if isinstance(node, gast.While):
            for part in [node.test] + node.body:
                visit(part, loops + (node,), "other", nested)
            for part in node.orelse:
                visit(part, loops, "other", nested)
            return
        if isinstance(node, (gast.ListComp, gast.SetComp, gast.DictComp, gast.GeneratorExp)):
            if isinstance(node, gast.GeneratorExp) and how != "iter":
                fail(node, "a generator expression kept in a container or handed on",
                     "sct builds a generator whole, as a list, which could then be walked more than once "
                     "where Python's generator is empty after the first walk: make it a list ([... for ...])")
            for i, gen in enumerate(node.generators):
                if i == 0:
                    visit(gen.iter, loops, "iter", nested)
                else:
                    visit(gen.iter, loops + (node,), "other", nested)
                for part in [gen.target] + gen.ifs:
                    visit(part, loops + (node,), "other", nested)
            for field in ("elt", "key", "value"):
                if getattr(node, field, None) is not None:
                    visit(getattr(node, field), loops + (node,), "other", nested)
            return
        if isinstance(node, gast.AugAssign) and isinstance(node.target, gast.Name):
            events.append(("change", node.target.id, node, loops, nested))     # z += v (an array: in place)
        if isinstance(node, gast.Call):
            if isinstance(node.func, gast.Attribute) and isinstance(node.func.value, gast.Name) and \
                    node.func.value.id in local_names:
                events.append(("change", node.func.value.id, node, loops, nested))    # rng.normal(), zs.append()
            # np.copyto(z, v), np.add.at(z, i, v), np.multiply(a, b, out=z): z changes in place
            if isinstance(node.func, gast.Attribute) and node.func.attr in _FIRST_ARGUMENT_WRITERS and \
                    node.args and isinstance(node.args[0], gast.Name):
                events.append(("change", node.args[0].id, node, loops, nested))
            for k in node.keywords:
                if k.arg == "out" and isinstance(k.value, gast.Name):
                    events.append(("change", k.value.id, node, loops, nested))
            for a in list(node.args) + [k.value for k in node.keywords]:
                a = a.value if isinstance(a, gast.Starred) else a
                if isinstance(a, gast.Name):
                    events.append(("passed", a.id, node, loops, nested))        # draw(rng)
            visit(node.func, loops, "other", nested)
            builtin = isinstance(node.func, gast.Name) and node.func.id in consumers
            library = isinstance(node.func, gast.Attribute)     # np.stack(...), "".join(...)
            # len(g), np.all(g), np.stack(g): Python's len raises, numpy takes the generator as one
            # object (np.all of it is True, np.stack raises); sct, which builds it as a list, gave
            # the list's answer (was: np.all(v > 0 for v in x) False where Python's is True)
            taker = "len()" if builtin and node.func.id == "len" else unwalked(node) if unwalked else None
            for a in node.args:
                inner = a.value if isinstance(a, gast.Starred) else a
                if taker is not None and _lazy_iterator(inner):
                    fail(inner, f"a generator given to {taker}", _unwalked_advice(taker))
                # (f(*(g(v) for v in xs)): walked once into the arguments, by Python as by sct; was refused)
                unpacked = inner is not a
                if isinstance(inner, gast.GeneratorExp) and not (builtin or library or unpacked):
                    fail(inner, "a generator expression passed to a function sct compiles as a helper",
                         "sct builds a generator whole, as a list, which the helper could walk more than "
                         "once where Python's generator is empty after the first walk: pass a list "
                         "([... for ...]) or list(...) of it")
                visit(inner, loops, ("taken by " + taker) if taker is not None else
                      "iter" if builtin or library or unpacked else "other", nested)
            for k in node.keywords:
                if taker is not None and _lazy_iterator(k.value):
                    fail(k.value, f"a generator given to {taker}", _unwalked_advice(taker))
                visit(k.value, loops, ("taken by " + taker) if taker is not None else "other", nested)
            events.append(("call", None, node, loops, nested))     # (after its arguments: when it runs)
            return
        if isinstance(node, gast.Starred):
            visit(node.value, loops, "iter", nested)
            return
        for child in gast.iter_child_nodes(node):
            visit(child, loops, "other", nested)

    for st in stmts:
        visit(st, (), "other", False)
    sharing = _may_share(stmts, local_names)
    for i, (kind, name, node, loops, nested, *more) in enumerate(events):
        if kind != "lazy":
            continue
        generator_reads, receivers, only_between = more
        # the objects the generator reads may be changed in place through another name too (c = z,
        # w = z[1:], z.reshape(...)): the generator reads c, z[0] = v changes it
        shared_reads = set().union(*(sharing.get(n, {n}) for n in generator_reads)) if generator_reads else set()
        reads = []
        between = []
        for later in events[i + 1:]:
            if later[1] != name:
                if not reads:
                    between.append(later)
                continue
            if later[0] not in ("load", "passed", "change"):
                break
            if later[0] == "load":
                reads.append(later)
        if reads:
            # changed after the binding, before the generator is walked: Python's reads the new values (a
            # call that may change what it reads: not one in a def or lambda made there, run when called)
            for other in between:
                if other[0] in ("store", "change") and other[1] in generator_reads or \
                        other[0] == "change" and other[1] in shared_reads or \
                        other[0] == "passed" and other[1] in receivers or \
                        other[0] == "call" and may_change is not None and (nested or not other[4]) and \
                        may_change(other[2], generator_reads | shared_reads, local_names):
                    callee = dotted_name(other[2].func) if other[0] == "call" else ""
                    shown = sorted(n for n in generator_reads if n in local_names or not (
                        hasattr(builtins, n) or n in _MODULE_NAMES or n in ("itertools", "functools"))) \
                        or sorted(generator_reads)
                    via = f"{', '.join(shown)}, which {callee + '()' if callee else 'the call'} may change," \
                        if other[0] == "call" else other[1] if other[1] in generator_reads else \
                        f"{', '.join(sorted(shared_reads & generator_reads))}, which may share its object with {other[1]},"
                    fail(other[2], "a change to what a generator reads, made after the generator and before it "
                         "is walked",
                         f"{name} computes its items when it is walked, reading {via} then; sct builds "
                         f"them where {name} is made. Make {name} where it is walked, or make it a list "
                         f"([... for ...]) where the items are meant to be those of that time")
        # a read before the binding, in a loop holding both, walks the generator of the last pass
        for earlier in events[:i]:
            if earlier[1] == name and earlier[0] == "load" and set(earlier[3]) & set(loops):
                shared = set(earlier[3]) & set(loops)
                if any(isinstance(n, (gast.For, gast.While)) for n in shared):
                    reads.append(earlier)
        what = "a generator used more than once"
        advice = (f"sct builds {name} whole, as a list, where Python's generator yields each item once "
                  f"(a second walk finds nothing): write {name} = [...] (a list) if the items are meant "
                  f"to be used again, or use the generator once")
        if only_between:
            continue
        if len(reads) > 1:
            fail(reads[1][2], what, advice)
        for _, _, read, read_loops, how in reads:
            if any(n not in loops for n in read_loops) or nested:
                fail(read, "a generator walked in a loop, a lambda or a nested function", advice)
            if how.startswith("taken by "):
                fail(read, f"a generator given to {how[len('taken by '):]}", _unwalked_advice(how[len("taken by "):]))
            if how != "iter":
                fail(read, "a generator handed on (to a helper, a container, another name)", advice)
