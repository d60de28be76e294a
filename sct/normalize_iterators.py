"""``zip``, ``enumerate`` and ``reversed`` in the forms sct's loops take apart.

sct lowers ``for a, b in zip(xs, ys)`` and ``for i, v in enumerate(xs)`` by position (each sequence
indexed, sct/normalize_loops.py), which needs a target of one name per sequence.  Python's other
spellings of the same walk were refused ("no derivative rule for zip"); they are rewritten here,
before the loops are lowered, into that form with the same values:

* a target that is not one name per sequence (``for pair in zip(xs, ys)``, ``for i, *rest in
  zip(a, b, c)``, the same in a comprehension) walks fresh names, and the user's target is assigned
  from them first thing in the body (in a comprehension: a ``for target in [(...)]`` clause);
* an iterator bound to a name (``pairs = zip(xs, ys)``, ``e = enumerate(xs)``, ``r = reversed(xs)``,
  ``p = itertools.pairwise(xs)``, whose call sct reads as the list of its items: runtime/iter_ops.py)
  is the generator expression Python's iterator is (the sequences read when it is made, the items
  when it is walked), which sct's generator checks then follow (walked once, not changed between);
* ``enumerate(xs, start=1)`` is ``enumerate(xs, 1)``; ``zip(..., strict=False)`` is ``zip(...)``;
  ``zip(..., strict=True)`` checks the lengths first (``rt.zip_strict``: Python's ValueError),
  where its sequences are names, attributes or constant subscripts of them (read twice);
* ``zip(...)``, ``enumerate(...)`` and ``reversed(...)`` given to one of itertools' iterators
  (``itertools.starmap(f, zip(xs, ys))``) are listed there: it walks them once; ``reversed(xs)``
  and itertools' iterators given to another call (``list(reversed(xs))``, a helper) are the
  generator expression they are, which sct's generator checks follow; so are ``zip(...)`` and
  ``enumerate(...)`` given to ``map``, ``max``, ``min``, ``sum`` or a helper
  (``sum(map(f, zip(xs, ys)))``, ``max(enumerate(xs), key=...)``).
"""
from __future__ import annotations

import types
from typing import List, Tuple

import gast

from .ir import call, copy_tree, load, store
from .runtime.iter_ops import ITERTOOLS_ITERATORS, ITERTOOLS_NAMES

ITERATORS = frozenset(("zip", "enumerate", "reversed"))
#: builtins that walk an iterator they are given once, taking no zip or enumerate apart themselves
CONSUMERS = frozenset(("map", "max", "min", "sum"))


def _pure(node) -> bool:
    """Read twice, the same object and no effect: a name, a constant, an attribute or a subscript
    of one by a constant, a name or a slice of those."""
    if isinstance(node, (gast.Name, gast.Constant)):
        return True
    if isinstance(node, gast.Attribute):
        return _pure(node.value)
    if isinstance(node, gast.Subscript):
        index = node.slice
        parts = [index.lower, index.upper, index.step] if isinstance(index, gast.Slice) else \
            list(index.elts) if isinstance(index, gast.Tuple) else [index]
        return _pure(node.value) and all(p is None or isinstance(p, (gast.Name, gast.Constant)) or
                                         isinstance(p, gast.UnaryOp) and isinstance(p.operand, gast.Constant)
                                         for p in parts)
    return False


class IteratorCalls(gast.NodeTransformer):
    """The rewrites above, for the builtins ``names`` (those the function's module does not
    define again and the function does not bind)."""

    def __init__(self, namer, rt_name: str, fail, names, called_object):
        self.namer, self.rt_name, self.fail, self.names = namer, rt_name, fail, frozenset(names)
        self.called_object = called_object

    def itertools_call(self, node) -> bool:
        """A call of one of itertools' iterators sct reads as a list of its items (runtime/iter_ops.py)."""
        if not isinstance(node, gast.Call) or \
                getattr(node.func, "attr", getattr(node.func, "id", None)) not in ITERTOOLS_NAMES:
            return False
        target = self.called_object(node.func)
        return any(target is f for f in ITERTOOLS_ITERATORS)

    # --- calls ---------------------------------------------------------------------------------

    def builtin(self, node, name: str) -> bool:
        return isinstance(node, gast.Call) and isinstance(node.func, gast.Name) and node.func.id == name \
            and name in self.names

    def visit_Call(self, node):
        self.generic_visit(node)
        starred = any(isinstance(a, gast.Starred) for a in node.args)
        if self.itertools_call(node):
            # itertools.starmap(f, zip(xs, ys)): the iterator it is given, walked once there, as a list
            node.args = [self.located(call("list", [a]), a)
                         if any(self.builtin(a, n) for n in ITERATORS) or self.itertools_call(a) else a
                         for a in node.args]
        else:
            # given to anything else (a helper, len, np.array, next): the iterator as the generator
            # expression it is, which sct's generator checks follow (a helper walking it twice, len() of
            # it: refused, as for any generator; sum(), sorted(), max(): walked once)
            # reversed(xs) given to a call (list(reversed(xs)), sum(reversed(xs))): the same, except
            # where zip or enumerate take it apart by position (zip(reversed(xs), ys))
            lazy = self.itertools_call if any(self.builtin(node, n) for n in ("zip", "enumerate")) else \
                (lambda a: self.itertools_call(a) or self.reversal(a))
            walked = self.walked_arguments(node)
            if walked is not None:
                # zip(...) and enumerate(...) given to map, max, min, sum or a helper (was: "no derivative
                # rule for zip"): the generator expression they are, walked once there
                lazy = (lambda a, lazy=lazy: lazy(a) or id(a) in walked and
                        any(self.builtin(a, n) for n in ("zip", "enumerate")))
            node.args = [(self.generator(a, "item", "item") or a) if lazy(a) else a for a in node.args]
            for k in node.keywords:
                if lazy(k.value):
                    k.value = self.generator(k.value, "item", "item") or k.value
        if self.builtin(node, "enumerate") and not starred and len(node.args) == 1 and \
                [k.arg for k in node.keywords] == ["start"]:
            node.args = node.args + [node.keywords[0].value]
            node.keywords = []
        elif self.builtin(node, "zip") and [k.arg for k in node.keywords] == ["strict"]:
            strict = node.keywords[0].value
            node.keywords = []
            if isinstance(strict, gast.Constant) and not strict.value or not node.args:
                return node
            if starred or not all(_pure(a) for a in node.args):
                self.fail(node, "zip(..., strict=True) of a computed sequence",
                          "bind each sequence to a name first (zip(a, b, strict=True)), so that sct can "
                          "compare their lengths before walking them")
            check = call(f"{self.rt_name}.zip_strict", [strict] + [copy_tree(a) for a in node.args])
            first = call(f"{self.rt_name}.after_check", [node.args[0], check])
            node.args = [first] + node.args[1:]
            for n in gast.walk(first):
                gast.copy_location(n, node)
        return node

    def walked_arguments(self, node):
        """The ids of the arguments the call ``node`` walks as an iterable, where it is one of ``CONSUMERS``
        or a helper: all of a helper's, ``map``'s after its function, ``sum``'s first, ``max``'s and
        ``min``'s one argument (given several, they compare them: Python's TypeError for two zips, not the
        larger list of items); None for another call."""
        args = node.args
        if any(isinstance(a, gast.Starred) for a in args):
            return set()
        if self.builtin(node, "map"):
            return {id(a) for a in args[1:]}
        if self.builtin(node, "sum"):
            return {id(a) for a in args[:1]}
        if self.builtin(node, "max") or self.builtin(node, "min"):
            return {id(a) for a in args} if len(args) == 1 else set()
        if isinstance(self.called_object(node.func), types.FunctionType):
            return {id(a) for a in args}
        return None

    def reversal(self, node) -> bool:
        return self.builtin(node, "reversed") and len(node.args) == 1 and not node.keywords and \
            not isinstance(node.args[0], gast.Starred)

    def iterator(self, value, hint="item"):
        """``(item for item in value)``: the lazy iterator itertools' call is."""
        fresh = self.namer.fresh(hint)
        return self.located(gast.GeneratorExp(elt=load(fresh), generators=[
            gast.comprehension(target=store(fresh), iter=value, ifs=[], is_async=0)]), value)

    def visit_Return(self, node):
        self.generic_visit(node)
        if node.value is not None and self.itertools_call(node.value):
            node.value = self.iterator(node.value)
        return node

    # --- targets -------------------------------------------------------------------------------

    def parts(self, it) -> int:
        """How many names ``for ... in it`` walks by position: zip's sequences, enumerate's 2."""
        if any(isinstance(a, gast.Starred) for a in getattr(it, "args", ())) or getattr(it, "keywords", None):
            return 0
        if self.builtin(it, "zip") and it.args:
            return len(it.args)
        if self.builtin(it, "enumerate") and 1 <= len(it.args) <= 2:
            return 2
        return 0

    def fit(self, target, it) -> Tuple[object, List[tuple]]:
        """(the target to walk ``it`` with, the (user's target, value) assignments that follow)."""
        count = self.parts(it)
        if not count:
            return target, []
        inner = list(it.args) if self.builtin(it, "zip") else [None, it.args[0]]
        if isinstance(target, (gast.Tuple, gast.List)) and len(target.elts) == count and \
                not any(isinstance(e, gast.Starred) for e in target.elts):
            elts, assigns = [], []
            for t, a in zip(target.elts, inner):
                new, more = self.fit(t, a) if a is not None else (t, [])
                elts.append(new)
                assigns.extend(more)
            return gast.Tuple(elts=elts, ctx=gast.Store()), assigns
        hint = target.id if isinstance(target, gast.Name) else "item"
        fresh = [self.namer.fresh(f"{hint}_{k}") for k in range(count)]
        elts, assigns = [], []
        for name, a in zip(fresh, inner):
            new, more = self.fit(store(name), a) if a is not None else (store(name), [])
            elts.append(new)
            assigns.extend(more)
        value = gast.Tuple(elts=[load(n) for n in fresh], ctx=gast.Load())
        return gast.Tuple(elts=elts, ctx=gast.Store()), assigns + [(target, value)]

    def visit_For(self, node):
        self.generic_visit(node)
        new, assigns = self.fit(node.target, node.iter)
        if assigns:
            node.target = new
            node.body = [self.located(gast.Assign(targets=[t], value=v, type_comment=None), node)
                         for t, v in assigns] + node.body
            self.located(new, node)
        return node

    def comprehension(self, node, visit=True):
        if visit:
            self.generic_visit(node)
        generators = []
        for gen in node.generators:
            new, assigns = self.fit(gen.target, gen.iter)
            if not assigns:
                generators.append(gen)
                continue
            generators.append(gast.comprehension(target=self.located(new, gen.iter), iter=gen.iter, ifs=[],
                                                 is_async=gen.is_async))
            for t, v in assigns:
                one = gast.List(elts=[v], ctx=gast.Load())
                generators.append(gast.comprehension(target=t, iter=self.located(one, gen.iter), ifs=[],
                                                     is_async=0))
            generators[-1].ifs = gen.ifs
        node.generators = generators
        return node

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = comprehension

    # --- iterators bound to names --------------------------------------------------------------

    def visit_Assign(self, node):
        self.generic_visit(node)
        value = node.value
        if len(node.targets) != 1 or not isinstance(node.targets[0], gast.Name) or \
                not isinstance(value, gast.Call) or value.keywords and not self.itertools_call(value) or \
                any(isinstance(a, gast.Starred) for a in value.args):
            return node
        hint = node.targets[0].id
        node.value = self.generator(value, hint, f"{hint}_item") or value
        return node

    def generator(self, value, hint: str, single: str):
        """The generator expression the iterator ``value`` is: ``((a, b) for a, b in zip(xs, ys))`` (names
        ``hint_0``, ...: taken apart by position as the loops do), ``(v for v in reversed(xs))`` (name
        ``single``) for reversed and itertools' iterators; None for another call."""
        if self.parts(value):
            fresh = [self.namer.fresh(f"{hint}_{k}") for k in range(self.parts(value))]
            elt = gast.Tuple(elts=[load(n) for n in fresh], ctx=gast.Load())
            target = gast.Tuple(elts=[store(n) for n in fresh], ctx=gast.Store())
        elif self.reversal(value) or self.itertools_call(value):
            fresh = self.namer.fresh(single)
            elt, target = load(fresh), store(fresh)
        else:
            return None
        return self.comprehension(self.located(gast.GeneratorExp(
            elt=elt, generators=[gast.comprehension(target=target, iter=value, ifs=[], is_async=0)]), value),
            visit=False)

    def visit_Lambda(self, node):
        self.generic_visit(node)
        return node

    @staticmethod
    def located(node, where):
        for n in gast.walk(node):
            if getattr(n, "lineno", None) is None and hasattr(where, "lineno"):
                gast.copy_location(n, where)
        return node

