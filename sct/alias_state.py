"""The vocabulary of the aliasing analysis (sct/aliasing.py): the abstract objects, the
copy-on-write states of the points-to analysis, the tables of functions and methods that view,
copy or change their arguments, and the walks over statements the passes share.

Objects are ``("new", site)`` (the object an allocation site made last), ``("old", site)`` (all
older ones), ``("arg", name)`` (an argument) and ``EXT`` (everything this function does not own).
"""
from __future__ import annotations

from typing import Dict, FrozenSet, Set, Tuple

import gast
import numpy as np

EXT = ("ext",)                       # every object this function does not own

# Functions and methods whose result may share memory with (or be) an argument.
VIEW_FUNCTIONS = {
    "reshape", "ravel", "transpose", "permute_dims", "matrix_transpose", "swapaxes", "moveaxis",
    "rollaxis", "squeeze", "expand_dims", "asarray", "asanyarray", "ascontiguousarray",
    "asfortranarray", "asarray_chkfinite", "require", "atleast_1d", "atleast_2d", "atleast_3d",
    "broadcast_to", "broadcast_arrays", "real", "imag", "diagonal", "diag", "flip", "fliplr",
    "flipud", "rot90", "split", "array_split", "hsplit", "vsplit", "dsplit", "unstack", "view",
    "as_strided", "sliding_window_view", "extractdata", "stop_gradient", "data_receiver", "as_sequence",
    "as_dlarray_data", "dlarray_of", "dlarray", "stripdims", "min", "max", "iter", "next", "getattr", "vars", "reversed",
    # (numpy's that give their argument itself or a view of it: np.real_if_close(z) of a real z is z,
    # np.trim_zeros(z) a slice of it; a write into the result was not seen to change z)
    "real_if_close", "trim_zeros", "asmatrix", "frombuffer", "from_dlpack", "ix_",
    # (np.ma.filled / np.ma.getdata of a plain array give it itself: red3_53 W3)
    "filled", "getdata",
    # (np.einsum of one operand gives a view of it where it can: 'ij->ji', 'ii->i', 'i->i'; a
    # write into the result was not seen to change the operand: red team L, dec 26. Of several
    # operands it computes a new array: sct/points_to.py _op_call)
    "einsum",
    # (np.diff(z, n=0) is z itself: of a positive n written out, a new array: sct/points_to.py)
    "diff",
    # (numpy's scalar types called on an array of their own dtype give the array itself: h2 = np.float64(h);
    # h2 *= 2 doubled h in Python, sct took h2 for new, half the gradient, red3_54 W1)
    "float64", "float32", "float16", "double", "single", "half", "longdouble", "complex128", "complex64",
    "cdouble", "csingle", "clongdouble",
}
def may_not_copy(call) -> bool:
    """Does ``call`` pass ``copy=`` other than a constant True (``np.array(a, copy=None)``, ``np.astype(a, t,
    copy=False)``: the array given itself where no copy is needed; was taken for a new array, a write into it
    not seen to change ``a``, red3_53 W2)?"""
    return any(k.arg == "copy" and not (isinstance(k.value, gast.Constant) and k.value.value is True)
               for k in call.keywords)


VIEW_METHODS = {"reshape", "ravel", "view", "transpose", "squeeze", "swapaxes", "diagonal", "conj",
                "conjugate", "get", "pop", "setdefault", "values", "items", "keys", "astype",
                "__getitem__", "flatten", "real", "imag", "__array__"}
VIEW_ATTRIBUTES = {"T", "mT", "H", "real", "imag", "flat", "data", "base"}
COPY_BUILTINS = {"list", "tuple", "dict", "sorted", "set", "frozenset", "copy"}
# ops that build a new container of (views of) their arguments' items
CONTAINER_COPIES = COPY_BUILTINS | {"copy_value", "deepcopy", "deep_copy", "listed", "tupled",
                                    "dict_merged", "copy_list", "as_sequence", "ordered_dict",
                                    "simple_namespace",   # (a new object holding its values)
                                    # what z.extend / z.insert / z.reverse / z.sort leave in a
                                    # list z (sct/aliasing.py lower_mutations): a new list of its items
                                    "extended", "inserted", "reversed_value", "sorted_value", "sorted_array",
                                    # (a new dataclass object / namedtuple holding the old one's fields and
                                    # the changes: was a new object holding nothing, so a write into a view
                                    # of q.w was lost and q.w's own change not followed)
                                    "dataclass_replaced", "namedtuple_replaced",
                                    "without_position", "without_key",
                                    # a | b of dicts (sct/normalize_exprs.py): a new dict holding both's
                                    # items (was a new value holding nothing: `d = {"a": M[0]} | e;
                                    # d["a"][0] = v` left M unchanged); bit_or of arrays: a new array
                                    "dict_or", "bit_or"}
SEQUENCE_MAKERS = {"list", "tuple", "sorted", "listed", "tupled", "copy_list", "extended", "inserted",
                   "reversed_value", "without_position"}
IMMUTABLE_BUILTINS = {"len", "range", "int", "float", "complex", "bool", "str", "repr", "print",
                      "isinstance", "hasattr", "callable", "abs", "round", "sum", "any", "all",
                      "enumerate", "zip", "format", "id", "hash", "type"}

# Methods of lists, dicts and arrays that change their receiver.
LIST_MUTATORS = {"append", "extend", "insert", "remove", "pop", "clear", "sort", "reverse",
                 "update", "setdefault", "popitem", "add", "discard"}
ARRAY_MUTATORS = {"sort", "fill", "resize", "put", "itemset", "partition", "setfield", "byteswap",
                  "setflags"}
MUTATORS = LIST_MUTATORS | ARRAY_MUTATORS
# what ``describe`` calls the sequence a for loop walks (``rt.as_sequence``), and how a write into
# what it walks is explained
LOOP_SEQUENCE = "the result of as_sequence()"
LOOP_WALK = "a for loop walks"
# numpy functions that write into their first argument
WRITING_FUNCTIONS = {"copyto", "put", "place", "putmask", "fill_diagonal", "put_along_axis"}


def _new(site) -> Tuple:
    return ("new", site)


def _old(site) -> Tuple:
    return ("old", site)


class _Map:
    """A dict with cheap copies: a shared base that is never changed once shared, and the
    entries set since (copy-on-write).  Each copy costs the size of that delta; the delta is
    folded into a new base when it outgrows the square root of the base, so the states kept
    for every statement cost O(n sqrt n) for an n-statement function, not O(n^2)."""
    __slots__ = ("base", "delta")

    def __init__(self, base=None, delta=None):
        self.base = base if base is not None else {}
        self.delta = delta if delta is not None else {}

    def get(self, k, default=None):
        d = self.delta
        if k in d:
            return d[k]
        return self.base.get(k, default)

    def __getitem__(self, k):
        d = self.delta
        if k in d:
            return d[k]
        return self.base[k]

    def __contains__(self, k):
        return k in self.delta or k in self.base

    def __setitem__(self, k, v):
        self.delta[k] = v

    def flat(self) -> Dict:
        if not self.delta:
            return self.base
        return {**self.base, **self.delta}

    def items(self):
        return self.flat().items()

    def __iter__(self):
        return iter(self.flat())

    def __len__(self):
        return len(self.flat())

    def copy(self) -> "_Map":
        if len(self.delta) * len(self.delta) > len(self.base) + 64:
            self.base = {**self.base, **self.delta}
            self.delta = {}
        return _Map(self.base, dict(self.delta))


class State:
    __slots__ = ("env", "heap", "escaped", "multi", "apart")

    def __init__(self, env=None, heap=None, escaped=frozenset(), multi=frozenset(), apart=frozenset()):
        self.env = env if isinstance(env, _Map) else _Map(dict(env or {}))
        self.heap = heap if isinstance(heap, _Map) else _Map(dict(heap or {}))
        self.escaped: FrozenSet = frozenset(escaped)
        # objects a container may hold at two places (``[a] * 2``, ``{"u": a, "v": a}``)
        self.multi: FrozenSet = frozenset(multi)
        # pairs of names (frozensets of two) whose objects are surely distinct and share no memory, where
        # the sites' objects cannot tell (a loop's site stands for the objects of every iteration:
        # ``a, b = b, a * 0.5`` in a loop, sct/points_to.py PointsTo.pair)
        self.apart: FrozenSet = frozenset(apart)

    def copy(self) -> "State":
        return State(self.env.copy(), self.heap.copy(), self.escaped, self.multi, self.apart)

    def join(self, other: "State") -> "State":
        out = self.copy()
        for mine, theirs, dest in ((self.env, other.env, out.env), (self.heap, other.heap, out.heap)):
            if mine.base is theirs.base:
                # the same base: only the keys either side set since can differ
                for k in set(mine.delta) | set(theirs.delta):
                    dest[k] = mine.get(k, frozenset()) | theirs.get(k, frozenset())
            else:
                for k, v in theirs.items():
                    dest[k] = dest.get(k, frozenset()) | v
        out.escaped = out.escaped | other.escaped
        out.multi = out.multi | other.multi
        out.apart = out.apart & other.apart
        return out

    def key(self):
        return (frozenset(self.env.items()), frozenset(self.heap.items()), self.escaped, self.multi, self.apart)

    def contents(self, objs) -> FrozenSet:
        out = set()
        for o in objs:
            out |= self.heap.get(o, frozenset())
        return frozenset(out)

    def reach(self, objs) -> Set:
        seen = set(objs)
        todo = list(objs)
        while todo:
            o = todo.pop()
            for c in self.heap.get(o, ()):
                if c not in seen:
                    seen.add(c)
                    todo.append(c)
        return seen


def _statements(body):
    for s in body:
        yield s
        for field_name in ("body", "orelse"):
            inner = getattr(s, field_name, None)
            if isinstance(inner, list):
                yield from _statements(inner)


def _mutating_call(s):
    """``(call, assigned name or None)`` for a statement whose value is a call."""
    if isinstance(s, gast.Expr) and isinstance(s.value, gast.Call):
        return s.value, None
    if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name) and isinstance(s.value, gast.Call):
        return s.value, s.targets[0].id
    return None, None


def _resolved(resolver, func):
    """The object a call's ``np.add.at``-like name chain refers to, or None (a local, unknown)."""
    import types
    chain = []
    node = func
    while isinstance(node, gast.Attribute):
        chain.append(node.attr)
        node = node.value
    if not isinstance(node, gast.Name) or node.id in resolver.locals:
        return None
    try:
        value = resolver.resolve_name(node.id)
    except Exception:
        return None
    from .analysis import Unresolved, _MISSING
    if value is Unresolved or value is _MISSING:
        return None
    for name in reversed(chain):
        if not isinstance(value, (types.ModuleType, type, types.SimpleNamespace, np.ufunc)):
            return None
        value = getattr(value, name, None)
        if value is None:
            return None
    return value


def _dotted(node) -> str:
    from .ir import dotted_name
    return dotted_name(node)

