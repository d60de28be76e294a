"""What a function writes into the lists (and other containers) its names hold, after they are bound: for
sct/argument_writes.py, whose type of ``hs = []`` is plain (a list written out of plain items) where the list is
then grown by ``hs.append(h)`` of dlarrays (was: ``np.stack(hs)``, ``np.sum(ys)`` after ``ys[0] = W * 3``,
numpy's arrays and numbers where Python gives dlarrays).

``contents_written(fdef)`` reads the function once: names that may hold one container (``a = hs``, ``r = hs[0]``,
``for r in rows``, ``c = [hs]``, ``d["k"] = hs``) are one group; a group's writes are the values put in by
``X.append(v)``, ``X.extend(v)``, ``X.insert(i, v)``, ``X[k] = v``, ``X.attr = v``, ``X[k] += v`` (X any name of
the group, or an item or field of one); its calls are those that are handed one of them (a helper may append
to it), for the reader to tell (numpy's functions and Python's builtins do not write into a list)."""
from __future__ import annotations

from typing import Dict, List, Optional

import gast

from .ir import walk_nodes

# methods that put their arguments into the container (list, dict, set, deque): the values they add
_ADDING = {"append": lambda c: c.args[:1], "add": lambda c: c.args[:1], "appendleft": lambda c: c.args[:1],
           "insert": lambda c: c.args[1:2], "extend": lambda c: c.args[:1], "extendleft": lambda c: c.args[:1],
           "__setitem__": lambda c: c.args[1:2], "setdefault": lambda c: c.args[1:2], "__iadd__": lambda c: c.args[:1],
           "update": lambda c: list(c.args) + [k.value for k in c.keywords]}
# ... and those that read it or take out of it: its items stay what they were
_READING = frozenset(("index", "count", "copy", "pop", "popleft", "remove", "discard", "clear", "sort", "reverse",
                      "get", "keys", "values", "items", "popitem", "__getitem__", "__len__", "__contains__"))
# calls whose result holds the items of their arguments (a shallow copy): one group with them
_COPYING = frozenset(("list", "tuple", "sorted", "reversed", "dict", "set", "iter", "zip", "enumerate", "copy"))


class Contents:
    """The groups of names and, for each, the values written into it and the calls handed it."""

    def __init__(self) -> None:
        self._parent: Dict[str, str] = {}
        self._writes: Dict[str, list] = {}
        self._calls: Dict[str, list] = {}

    def group(self, name: str) -> str:
        root = name
        while self._parent.get(root, root) != root:
            root = self._parent[root]
        self._parent[name] = root
        return root

    def join(self, a: str, b: str) -> None:
        ra, rb = self.group(a), self.group(b)
        if ra != rb:
            self._parent[ra] = rb
            self._writes.setdefault(rb, []).extend(self._writes.pop(ra, []))
            self._calls.setdefault(rb, []).extend(self._calls.pop(ra, []))

    def written(self, name: str, value) -> None:
        """``value`` put into what ``name`` holds (None: something not known)."""
        self._writes.setdefault(self.group(name), []).append(value)

    def handed(self, name: str, call) -> None:
        self._calls.setdefault(self.group(name), []).append(call)

    def writes(self, name: str) -> List[Optional[gast.AST]]:
        return list(self._writes.get(self.group(name), ()))

    def calls(self, name: str) -> list:
        return list(self._calls.get(self.group(name), ()))


def root_name(node) -> Optional[str]:
    """``X`` of ``X``, ``X[k]``, ``X.a[k]``...: the name an item or field is read from; None for another
    expression."""
    while isinstance(node, (gast.Subscript, gast.Attribute, gast.Starred)):
        node = node.value
    return node.id if isinstance(node, gast.Name) else None


def _held(value) -> List[str]:
    """The names whose containers (or items) ``value`` may be itself or hold: ``hs``, ``hs[0]``, ``[hs, 1]``,
    ``a if c else hs``, ``hs + [h]``, ``list(hs)``."""
    name = root_name(value)
    if name is not None:
        return [name]
    if isinstance(value, (gast.List, gast.Tuple, gast.Set)):
        return [n for e in value.elts for n in _held(e)]
    if isinstance(value, gast.Dict):
        return [n for e in value.values for n in _held(e)]
    if isinstance(value, gast.IfExp):
        return _held(value.body) + _held(value.orelse)
    if isinstance(value, gast.BinOp):
        return _held(value.left) + _held(value.right)
    if isinstance(value, gast.Call) and (isinstance(value.func, gast.Name) and value.func.id in _COPYING or
                                         isinstance(value.func, gast.Attribute) and value.func.attr in _COPYING):
        return [n for a in value.args for n in _held(a)] + \
            ([root_name(value.func.value)] if isinstance(value.func, gast.Attribute) and
             root_name(value.func.value) else [])
    return []


def contents_written(fdef) -> Contents:
    found = Contents()
    for n in walk_nodes(fdef):
        if isinstance(n, gast.Assign):
            held = _held(n.value)
            for t in n.targets:
                _assigned(found, t, n.value, held)
        elif isinstance(n, gast.AugAssign) and not isinstance(n.target, gast.Name):
            _assigned(found, n.target, n.value, _held(n.value))
        elif isinstance(n, (gast.For, gast.comprehension)):
            for name in _held(n.iter):
                for t in walk_nodes(n.target):
                    if isinstance(t, gast.Name):
                        found.join(t.id, name)
        elif isinstance(n, gast.Call):
            _called(found, n)
    return found


def _assigned(found: Contents, target, value, held) -> None:
    if isinstance(target, gast.Name):
        for name in held:
            found.join(target.id, name)
    elif isinstance(target, (gast.Tuple, gast.List)):
        for e in target.elts:           # (``a, b = hs``: each may be an item of it; ``a[0], b = ...``: not known)
            _assigned(found, e, None, held)
    else:
        name = root_name(target)
        if name is None:
            return
        found.written(name, value)      # (``X[k] = v``, ``X.a = v``; None from an unpacking: not known)
        for other in held:
            found.join(name, other)


def _called(found: Contents, call) -> None:
    func = call.func
    receiver = root_name(func.value) if isinstance(func, gast.Attribute) else None
    arguments = list(call.args) + [k.value for k in call.keywords]
    if receiver is not None and func.attr in _ADDING:
        for v in _ADDING[func.attr](call):
            found.written(receiver, v)
            for name in _held(v):
                found.join(receiver, name)
        return
    if receiver is not None and func.attr in _READING:
        return
    if receiver is not None:
        found.handed(receiver, call)    # (``model.record(x)``: a method of the user's may write into its fields)
    for a in arguments:
        for name in _held(a):
            found.handed(name, call)
