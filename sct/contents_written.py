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
    """The groups of names and, for each, the values written into it (with the depth of the container written:
    0 for ``X[k] = v``, 1 for ``X[k].append(v)``), the containers it was put into and the calls handed it."""

    def __init__(self) -> None:
        self._parent: Dict[str, str] = {}
        self._writes: Dict[str, list] = {}
        self._calls: Dict[str, list] = {}
        self._into: Dict[str, set] = {}
        self._holds: Dict[str, set] = {}

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
            for table in (self._writes, self._calls):
                table.setdefault(rb, []).extend(table.pop(ra, []))
            for sets in (self._into, self._holds):
                sets.setdefault(rb, set()).update(sets.pop(ra, ()))

    def written(self, name: str, value, depth: int) -> None:
        """``value`` put into what ``name`` holds (None: something not known)."""
        self._writes.setdefault(self.group(name), []).append((value, depth))

    def put_into(self, name: str, container: str) -> None:
        """What ``name`` holds an item of what ``container`` holds (``d["k"] = X``, ``d.append(X)``, ``X = d["k"]``)."""
        self._into.setdefault(self.group(name), set()).add(container)
        self._holds.setdefault(self.group(container), set()).add(name)

    def handed(self, name: str, call) -> None:
        self._calls.setdefault(self.group(name), []).append(call)

    def reach(self, name: str):
        """``(writes, calls)`` that may change what ``name`` holds: those of its group, those into the items of the
        containers it is an item of (``d[k].append(v)`` after ``d[k] = X``) and all those of its items."""
        writes, calls, todo, done = [], [], [(self.group(name), 0)], set()
        while todo:
            group, depth = todo.pop()
            if (group, depth) in done:
                continue
            done.add((group, depth))
            writes += [v for v, d in self._writes.get(group, ()) if d >= depth]
            calls += self._calls.get(group, ())
            todo += [(self.group(c), 1) for c in self._into.get(group, ())]
            todo += [(self.group(i), 0) for i in self._holds.get(group, ())]
        return writes, calls


def root_name(node) -> Optional[str]:
    """``X`` of ``X``, ``X[k]``, ``X.a[k]``...: the name an item or field is read from; None for another
    expression."""
    while isinstance(node, (gast.Subscript, gast.Attribute, gast.Starred)):
        node = node.value
    return node.id if isinstance(node, gast.Name) else None


def _depth(node) -> int:
    """How many items or fields down from its name ``node`` reads (``X``: 0, ``X[k]``: 1, ``X.a[k]``: 2)."""
    depth = 0
    while isinstance(node, (gast.Subscript, gast.Attribute)):
        node, depth = node.value, depth + 1
    return depth


def _held(value) -> List[str]:
    """The names whose containers (or items) ``value`` may be itself or share items with: ``hs``, ``hs[0]``, ``a if
    c else hs``, ``hs + [h]``, ``list(hs)``."""
    name = root_name(value)
    if name is not None:
        return [name]
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


def _items(value) -> List[str]:
    """The names whose containers ``value`` makes items of a new one (``[hs, 1]``, ``{"h": hs}``)."""
    if isinstance(value, (gast.List, gast.Tuple, gast.Set)):
        return [n for e in value.elts for n in _held(e) + _items(e)]
    if isinstance(value, gast.Dict):
        return [n for e in value.values for n in _held(e) + _items(e)]
    return []


def contents_written(fdef) -> Contents:
    found = Contents()
    for n in walk_nodes(fdef):
        if isinstance(n, gast.Assign):
            for t in n.targets:
                _assigned(found, t, n.value)
        elif isinstance(n, gast.AugAssign) and not isinstance(n.target, gast.Name):
            _assigned(found, n.target, n.value)
        elif isinstance(n, (gast.For, gast.comprehension)):
            for name in _held(n.iter) + _items(n.iter):
                for t in walk_nodes(n.target):
                    if isinstance(t, gast.Name):
                        found.put_into(t.id, name)      # (``for r in rows``: r an item of rows)
        elif isinstance(n, gast.Call):
            _called(found, n)
    return found


def _assigned(found: Contents, target, value) -> None:
    held, items = (_held(value), _items(value)) if value is not None else ([], [])
    if isinstance(target, gast.Name) and isinstance(value, (gast.Subscript, gast.Attribute)) and held:
        found.put_into(target.id, held[0])      # (``r = rows[0]``: an item of rows)
    elif isinstance(target, gast.Name):
        for name in held:
            found.join(target.id, name)
        for name in items:
            found.put_into(name, target.id)
    elif isinstance(target, (gast.Tuple, gast.List)):
        for e in target.elts:           # (``a, b = hs``: each may be an item of it; ``a[0], b = ...``: not known)
            if isinstance(e, gast.Name):
                for name in held + items:
                    found.join(e.id, name)
            else:
                _assigned(found, e, None)
    else:
        name = root_name(target)
        if name is None:
            return
        found.written(name, value, _depth(target) - 1)      # (``X[k] = v``, ``X.a = v``; None: not known)
        for other in held + items:
            found.put_into(other, name)


def _called(found: Contents, call) -> None:
    func = call.func
    receiver = root_name(func.value) if isinstance(func, gast.Attribute) else None
    arguments = list(call.args) + [k.value for k in call.keywords]
    if receiver is not None and func.attr in _ADDING:
        for v in _ADDING[func.attr](call):
            found.written(receiver, v, _depth(func.value))
            for name in _held(v) + _items(v):
                found.put_into(name, receiver)
        return
    if receiver is not None and func.attr in _READING:
        return
    if receiver is not None:
        found.handed(receiver, call)    # (``model.record(x)``: a method of the user's may write into its fields)
    for a in arguments:
        for name in _held(a) + _items(a):
            found.handed(name, call)
