"""What a value written into a dict dlfeval was given is in plain Python: a dlarray or a plain value.

``state["bn"]["TrainedMean"] = m`` in a model function (MATLAB's "Train Network Using Model Function") changes
the caller's dict (sct.runtime.support.setitem_through), which must then hold what plain Python leaves there:
the dlarray ``m`` where it is one, an ndarray or a number where it is one.  The generated code runs on plain
arrays, so that is told here, from the code: ``python_type`` answers ``"dl"`` (surely a dlarray: an op of a
value that surely is one), ``"plain"`` (surely not: numbers, numpy's arrays built from constants) or ``""``
(not known: the run stores numbers and text as they are and refuses an array, whose type it cannot tell).
(Activity is no answer: a name is traced where any item of its dict is, ``d["n"] + 1`` of an int item too.)
"""
from __future__ import annotations

import types
from typing import Dict

import gast
import numpy as np

from .contents_written import contents_written
from .ir import walk_no_defs, walk_nodes
from .normalize_try import local_names_of
from .kinds import child_kind, leaf_kind
from .plans import CallKind
from .runtime.origins import module_top

_DEPTH = 64


# A dlarray's methods and attributes whose results are dlarrays in plain Python (runtime/dlarray.py __getattr__,
# the properties T, real, imag): ``h.mean(axis=0)`` of a dlarray ``h`` is one.  (An integer result, from
# ``h.astype(int)`` or ``b.sum()`` of a logical b, is numpy's: setitem_through refuses a "dl" value that is not
# a float or complex array.  Not ``item``, ``tolist``, ``mT``, ``data``: Python's numbers, lists, ndarrays.)
_DL_METHODS = frozenset(("sum", "mean", "var", "std", "max", "min", "prod", "cumsum", "cumprod", "reshape", "copy",
                         "astype", "ravel", "flatten", "transpose", "squeeze", "swapaxes", "conj", "conjugate",
                         "clip", "round"))
_DL_ATTRIBUTES = frozenset(("T", "real", "imag"))
_TEST_METHODS = frozenset(("any", "all"))         # (of a numpy array: numpy's bools)
# ... and its attributes that are Python's ints and tuples of them (those of an ndarray too)
_SIZE_ATTRIBUTES = frozenset(("shape", "ndim", "size"))
# ... and those whose results are numpy's integer arrays and scalars (positions: runtime/dlarray.py _wrap_result),
# numpy's functions of those names and a few more positions and counts too (``np.argmax(y, 1)`` of a dlarray y)
_INTEGER_METHODS = frozenset(("argmax", "argmin", "argsort"))
_INTEGER_FUNCTIONS = _INTEGER_METHODS | {"argwhere", "flatnonzero", "count_nonzero"}
# ... and those whose results are Python's numbers and lists of them
_NUMBER_METHODS = frozenset(("item", "tolist"))
# Python's and numpy's number types: called, they give a number or an ndarray, never a dlarray (np.float64(h) of a
# 0-d dlarray is numpy's float64, of another an ndarray; float(h) Python's float)
_NUMBER_TYPES = frozenset((float, int, complex, bool, np.float64, np.float32, np.float16, np.complex64,
                           np.complex128, np.int64, np.int32, np.int16, np.int8, np.uint64, np.uint32, np.uint16,
                           np.uint8, np.bool_, np.longdouble))

# numpy's functions that give an ndarray of any argument, a dlarray too (numpy does not dispatch them to
# runtime/dlarray.py): ``state["m"] = np.asarray(h)`` stores an ndarray in Python
_NDARRAY_MAKERS = frozenset(("asarray", "array", "asanyarray", "ascontiguousarray", "asfortranarray",
                             "asarray_chkfinite", "require"))

_CYCLE = "cycle"         # (a name met again while its bindings are read: as its other bindings say)
_CYCLE_DL = "cycle-dl"   # (a dlarray where the name met again is one, not known where it is not)


def python_type(value, facts, seen=None) -> str:
    """``"dl"``, ``"plain"`` or ``""`` for the expression ``value`` (see the module's text); ``facts`` is
    the write check (its activity, its name bindings, the parameters)."""
    found = _type(value, facts, set() if seen is None else seen)
    return "" if found in (_CYCLE, _CYCLE_DL) else found


_DICT_CHANGES = frozenset(("setdefault", "update", "pop", "popitem", "clear", "__setitem__", "__delitem__"))


def kept_or_dl(target, value, facts, fdef) -> str:
    """``"dl-kept"`` for ``d[k] = h`` (``target``, ``value``) where every binding of ``h`` is either the read
    ``d[k]`` of the same dict parameter and key (the caller's item itself, whatever it is) or an operation that
    surely gives a dlarray, and no other write of a ``k`` item is made in the function: ``h = state["h"]``, then
    ``h = np.tanh(xt @ W + h @ U)`` in a loop over ``xs``, then ``state["h"] = h`` (refuse55a: was not known,
    refused when run, where ``state["h"]`` held an ndarray).  The run stores the caller's item as it is where
    the value is that very object (no pass of the loop ran) and a dlarray otherwise
    (runtime/support.py ``setitem_through``); ``""`` where that is not shown."""
    if not (isinstance(value, gast.Name) and isinstance(target, gast.Subscript) and
            isinstance(target.value, gast.Name) and target.value.id in facts.params and
            isinstance(target.slice, gast.Constant)):
        return ""
    holder, key = target.value.id, target.slice.value
    writes = facts.key_writes()
    if writes is None or len(writes.get(key, ())) != 1 or facts.bindings().get(holder):
        return ""
    if any(isinstance(n, gast.Attribute) and n.attr in _DICT_CHANGES and isinstance(n.value, gast.Name) and
           n.value.id == holder or isinstance(n, gast.Delete) for n in walk_nodes(fdef)):
        return ""                   # (the item changed another way: the caller's may not be the one read)
    later = _bound_after(fdef, target)
    kept, made, names, todo = False, False, set(), [value.id]
    while todo:
        name = todo.pop()
        if name in names or name in facts.params:
            return ""               # (a parameter's value: it may be the very array of the caller's item)
        names.add(name)
        binds = facts.bindings().get(name)
        if not binds or any(b is None for b in binds):
            return ""
        for b in binds:
            if id(b) in later:
                continue            # (``h = h * 2.0`` after ``state["h"] = h``: not the value stored)
            if isinstance(b, gast.Subscript) and isinstance(b.value, gast.Name) and b.value.id == holder and \
                    isinstance(b.slice, gast.Constant) and b.slice.value == key:
                kept = True
            elif isinstance(b, gast.Name):
                todo.append(b.id)
            elif _type(b, facts, set()) in ("dl", _CYCLE_DL):
                made = True
            else:
                return ""
    return "dl-kept" if kept and made else ""


def _bound_after(fdef, target) -> set:
    """The ids of the values ``name = value`` binds after the statement storing into ``target``, where that
    statement is in no loop (they cannot reach it; red2_55 F1: ``state["h"] = h`` then ``h = h * 2.0`` was
    refused when run); empty where it is in a loop or not found."""
    order: list = []

    def visit(body, in_loop):
        for st in body:
            order.append((st, in_loop))
            if isinstance(st, (gast.FunctionDef, gast.AsyncFunctionDef, gast.ClassDef)):
                continue
            loop = in_loop or isinstance(st, (gast.For, gast.While, gast.AsyncFor))
            for field in ("body", "orelse", "finalbody"):
                visit(getattr(st, field, None) or [], loop)
            for handler in getattr(st, "handlers", None) or []:
                visit(handler.body, loop)
    visit(fdef.body, False)
    for i, (st, in_loop) in enumerate(order):
        if isinstance(st, gast.Assign) and any(t is target for t in st.targets):
            if in_loop:
                return set()
            return {id(later.value) for later, _ in order[i + 1:] if isinstance(later, gast.Assign)}
    return set()


def _type(value, facts, seen) -> str:
    if len(seen) > _DEPTH or _spent(facts):
        return ""                   # (not known: as deep as that, or read long enough; the same from anywhere)
    if isinstance(value, gast.Subscript):
        found = getattr(facts, "item_types", dict)().get(id(value))
        if found in ("dl", "plain"):
            return found            # (the item as the last write before this read left it: item_types)
    kind = _kind(value, facts, set())
    if kind is not None:
        return _kind_type(kind)
    if isinstance(value, gast.Subscript) and _kind_type(_kind(value.value, facts, set())) == "dl":
        return "dl"                 # (an item of a dlarray argument: a dlarray, runtime/dlarray.py __getitem__)
    if isinstance(value, gast.Subscript) and _array_argument(value.value, facts):
        return "plain"              # (arr[1:], arr[0] of a numpy argument: numpy's, were dlarrays, red58b W1)
    if isinstance(value, gast.Subscript) and isinstance(value.slice, gast.Constant) and \
            _kind(value.value, facts, set()) is not None:
        return _written_item_type(value, facts, seen)
    if isinstance(value, gast.Subscript) and not isinstance(value.slice, (gast.Constant, gast.Slice)) and \
            _kind(value.value, facts, set()) is not None:
        return _any_item_type(value, facts, seen)
    if isinstance(value, gast.Constant):
        return "plain" if isinstance(value.value, (int, float, complex, bool, str)) or value.value is None else ""
    if isinstance(value, (gast.List, gast.Tuple)):
        # a list or tuple written out: plain where its items are (``state["hist"] + [float(loss)]``, a list of
        # Python's floats: was not known, refused when stored, red54u F2)
        types_ = [_type(e, facts, seen) for e in value.elts]
        return "plain" if all(t == "plain" for t in types_) else ""
    if isinstance(value, gast.Name):
        reaching = getattr(facts, "reaching", None)
        if reaching is not None and id(value) in reaching:
            bound = reaching[id(value)]                         # (the one binding this read sees)
            found = _reaching_type(bound, facts)
            return _contents_type(value.id, facts, seen) if found == "plain" and _may_be_filled(bound, facts) \
                else found
        param = value.id in facts.params
        if param and not facts.bindings().get(value.id):
            return getattr(facts, "given", {}).get(value.id, "")     # (a helper's parameter: _helper_type)
        if value.id in seen:
            _note_partial(facts)
            return _CYCLE
        memo = _name_types(facts)
        if value.id in memo:
            return memo[value.id]
        binds = facts.bindings().get(value.id)
        if not binds:
            return _global_type(value.id, facts)
        if any(b is None for b in binds) and value.id in _range_counters(facts):
            binds = [_AN_INT if b is None else b for b in binds]    # (i of ``for i in range(n)``: Python's int)
        if any(b is None for b in binds):
            return ""
        seen.add(value.id)
        partial = _partials(facts)
        try:
            # (a parameter bound again, ``c = c * 0.5`` in a loop: what it is at entry and each binding; was not
            # known, a helper's float came back as a dlarray, red56d W1)
            found = _agreed([_type(b, facts, seen) for b in binds] + ([_entry_type(value.id, facts)] if param else []))
            if found == "plain" and any(_may_be_filled(b, facts) for b in binds):
                found = _contents_type(value.id, facts, seen)
        finally:
            seen.discard(value.id)
        if _partials(facts) == partial:
            memo[value.id] = found  # (no name met again below: the same wherever it is read;
        return found                # was read again for every read, exponential in a long chain of names:
                                    # output_types of a 2,000-statement function ran for minutes)
    if isinstance(value, gast.BinOp):
        found = _operands(_type(value.left, facts, seen), _type(value.right, facts, seen))
        return found or _dunder_type(value, facts, seen)
    if isinstance(value, gast.UnaryOp) and isinstance(value.op, (gast.USub, gast.UAdd, gast.Invert)):
        return _type(value.operand, facts, seen)
    if isinstance(value, gast.UnaryOp) and isinstance(value.op, gast.Not):
        return "plain"              # (Python's bool)
    if isinstance(value, gast.Compare) and len(value.ops) == 1:
        if isinstance(value.ops[0], (gast.Is, gast.IsNot, gast.In, gast.NotIn)):
            return "plain"          # (Python's bool)
        # a dlarray's comparison is a dlarray of bools (runtime/dlarray.py): ``state["active"] = h > 0`` stores
        # one in Python (was not known: stored as the code's ndarray, or refused, red54u W2)
        return _operands(_type(value.left, facts, seen), _type(value.comparators[0], facts, seen))
    if isinstance(value, gast.Subscript) and isinstance(value.value, gast.Name) and \
            isinstance(value.slice, gast.Constant) and getattr(facts, "typing_outputs", False):
        found = _local_item_type(value, facts, seen)
        if found:
            return found
    if isinstance(value, gast.Subscript) and isinstance(value.value, gast.Name) and \
            isinstance(value.slice, gast.Constant) and type(value.slice.value) is int:
        return _output_type(value, facts, seen)
    if isinstance(value, gast.Subscript):
        found = _type(value.value, facts, seen)
        if found == "plain" and _type(value.slice, facts, seen) == "plain":
            return "plain"          # (np.eye(k)[p] of an argmax p: numpy's array, red3_55 W1)
        return _item_type(value.value, found, facts)                # (h[:, 0], h[i] of a dlarray h)
    if isinstance(value, gast.IfExp):
        return _agreed([_type(value.body, facts, seen), _type(value.orelse, facts, seen)])
    if isinstance(value, gast.Attribute) and isinstance(value.value, gast.Name) and \
            value.value.id in (getattr(facts, "fields", None) or ()):
        found = _field_type(value, facts, seen)
        if found:
            return found
    if isinstance(value, gast.Attribute) and isinstance(value.value, gast.Name) and \
            getattr(facts, "typing_outputs", False):
        found = _built_field_type(value, facts, seen)
        if found:
            return found
    if isinstance(value, gast.Attribute) and value.attr in _SIZE_ATTRIBUTES and \
            _type(value.value, facts, seen) in ("dl", "plain"):
        return "plain"              # (x.shape[0] * 0.5 of an array x: Python's float, red56d W1)
    if isinstance(value, gast.Attribute) and value.attr in _DL_ATTRIBUTES:
        return _of_dlarray(_type(value.value, facts, seen))         # (h.T)
    if isinstance(value, gast.Call) and isinstance(value.func, gast.Attribute) and value.func.attr in _DL_METHODS:
        found = _of_dlarray(_type(value.func.value, facts, seen))   # (h.mean(axis=0): was not known, refused
        if found:                                                   # where np.mean(h, axis=0) ran: redfix52 F17)
            return found
    if isinstance(value, gast.Call) and isinstance(value.func, gast.Attribute) and \
            value.func.attr in _DL_METHODS | _TEST_METHODS and _type(value.func.value, facts, seen) == "plain" and \
            all(_type(a, facts, seen) == "plain" or _a_dtype(a, facts)
                for a in list(value.args) + [k.value for k in value.keywords]):
        return "plain"              # (c.mean(), p.astype(float), c.any() of numpy's arrays (c = argmax(y, 1) ==
                                    # labels): numpy's numbers and arrays, as np.mean(c) is; red3_55 W1)
    if isinstance(value, gast.Call) and isinstance(value.func, gast.Attribute) and \
            value.func.attr in _TEST_METHODS and not value.args and \
            all(k.arg in _DLARRAY_RESULT_KEYWORDS for k in value.keywords) and \
            _type(value.func.value, facts, seen) == "dl":
        return "dl"                 # ((h > 0).all() of a dlarray h: a 0-d dlarray, as np.all's, red57c W2)
    if isinstance(value, gast.Call) and isinstance(value.func, gast.Attribute) and \
            value.func.attr in _INTEGER_METHODS and _type(value.func.value, facts, seen) == "dl":
        return "plain"
    if isinstance(value, gast.Call) and isinstance(value.func, gast.Attribute) and \
            value.func.attr in _NUMBER_METHODS and not value.args and not value.keywords and \
            _type(value.func.value, facts, seen) in ("dl", "plain"):
        return "plain"              # (h.item() of an array: Python's number; h.tolist(): a list of them)
    if isinstance(value, gast.Call):
        return _call_type(value, facts, seen)
    return ""


def _built_field_type(value, facts, seen) -> str:
    """``t.scale`` of a local ``t`` bound once to a namedtuple the function builds (``St(y, 1.5)``, or its
    ``_replace(scale=2.5)``, the normalizer's ``rt.namedtuple_replaced``): the type of the number stored there
    (a tuple's fields are never rebound; was a 1x1 dlarray, red57b W3)."""
    bound = _bound_value(value.value, facts)
    if not isinstance(bound, gast.Call):
        return ""
    stored = _built_field(bound, value.attr, facts, 0)
    return "plain" if stored is not None and _scalar(stored, facts, 0) and _type(stored, facts, seen) == "plain" \
        else ""


def _bound_value(name, facts):
    """The value the read ``name`` (a local) sees: its one binding, or the one reaching it on the top level
    (``t = St(y, 1.5)``, then ``t = t._replace(scale=t.scale * 2)``: reaching_bindings); None where not known."""
    if name.id in facts.params:
        return None
    reaching = getattr(facts, "reaching", None)
    if reaching is not None and id(name) in reaching:
        return reaching[id(name)]
    binds = facts.bindings().get(name.id)
    return binds[0] if binds and len(binds) == 1 else None


def _built_field(call, attr, facts, depth):
    """The expression the namedtuple built by ``call`` holds at its field ``attr`` (None where not known)."""
    if depth > 8 or any(isinstance(a, gast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords):
        return None
    obj = facts.activity.call_info(call).obj
    if getattr(obj, "__name__", "") == "namedtuple_replaced" and module_top(obj) in ("sct", "runtime") and \
            len(call.args) == 2 and isinstance(call.args[0], gast.Name) and isinstance(call.args[1], gast.Name):
        changes = _bound_value(call.args[1], facts)
        holder = _bound_value(call.args[0], facts)
        if not isinstance(changes, gast.Dict) or not all(isinstance(k, gast.Constant) for k in changes.keys) or \
                not isinstance(holder, gast.Call):
            return None
        given = {k.value: v for k, v in zip(changes.keys, changes.values)}
        return given[attr] if attr in given else _built_field(holder, attr, facts, depth + 1)
    fields = _stored_fields(obj)
    if fields is None or not issubclass(obj, tuple) or len(call.args) > len(fields[0]):
        return None
    given = dict(zip(fields[0], call.args))
    given.update({k.arg: k.value for k in call.keywords})
    return given.get(attr)


def _local_item_type(value, facts, seen) -> str:
    """``d["n"]`` of a local ``d`` bound once to a dict written out (``dict(n=2.0 * 3, m=y)``, the normalizer's
    ``d = {}``, ``d["n"] = d_mul``), read and written only by key: the type of the numbers stored at that key
    (was a 1x1 dlarray, red57b W3)."""
    name, key = value.value.id, value.slice.value
    binds = facts.bindings().get(name)
    fdef = getattr(facts, "fdef", None)
    keys = facts.key_writes()
    if name in facts.params or not binds or len(binds) != 1 or not isinstance(binds[0], gast.Dict) or \
            fdef is None or keys is None or not all(isinstance(k, gast.Constant) for k in binds[0].keys) or \
            not _keyed_only(fdef, name):
        return ""
    stored = [v for k, v in zip(binds[0].keys, binds[0].values) if k.value == key] + \
        list(keys.get(key, ())) + list(keys.get(None, ()))
    return "plain" if stored and all(_scalar(v, facts, 0) and _type(v, facts, seen) == "plain" for v in stored) \
        else ""


def _keyed_only(fdef, name) -> bool:
    """Is ``name`` used in ``fdef`` only as ``name[k]`` (read, ``name[k] = v``, ``del name[k]``; no ``+=`` of an
    item, no method, no alias)?"""
    parents = {}
    for n in walk_nodes(fdef):
        for child in gast.iter_child_nodes(n):
            parents[id(child)] = n
    for n in walk_nodes(fdef):
        if isinstance(n, gast.AugAssign) and isinstance(n.target, gast.Subscript) and \
                isinstance(n.target.value, gast.Name) and n.target.value.id == name:
            return False
        if isinstance(n, gast.Name) and n.id == name and isinstance(n.ctx, gast.Load):
            up = parents.get(id(n))
            if not (isinstance(up, gast.Subscript) and up.value is n):
                return False
    return True


def _scalar(node, facts, depth) -> bool:
    """Is ``node`` surely a number, never a list or other container (whose items a later write may change):
    a number constant, an operator of such, a number type's or ``math``'s call, a local bound only to such, a
    field of a closed object (``_entry_fields``)?"""
    if depth > 16:
        return False
    if isinstance(node, gast.Constant):
        return isinstance(node.value, (int, float, complex, bool))
    if isinstance(node, gast.UnaryOp):
        return _scalar(node.operand, facts, depth + 1)
    if isinstance(node, gast.BinOp):
        return _scalar(node.left, facts, depth + 1) and _scalar(node.right, facts, depth + 1)
    if isinstance(node, gast.Attribute):
        if not isinstance(node.value, gast.Name):
            return False
        if ((getattr(facts, "fields", None) or {}).get(node.value.id) or {}).get(node.attr) == "plain":
            return True
        bound = _bound_value(node.value, facts)         # (a field of a namedtuple built here: t.scale * 2)
        stored = _built_field(bound, node.attr, facts, 0) if isinstance(bound, gast.Call) else None
        return stored is not None and _scalar(stored, facts, depth + 1)
    if isinstance(node, gast.Call):
        obj = facts.activity.call_info(node).obj
        return (_number_type(obj) and obj not in (np.float64, np.float32, np.float16) or _plain_builtin(obj) or
                module_top(obj) == "math") and \
            all(not isinstance(a, (gast.List, gast.Tuple, gast.Dict, gast.Set)) for a in node.args)
    if isinstance(node, gast.Name):
        if node.id in facts.params:
            return False
        binds = facts.bindings().get(node.id)
        return bool(binds) and all(b is not None and _scalar(b, facts, depth + 1) for b in binds)
    return False


_DUNDERS = {gast.Add: "add", gast.Sub: "sub", gast.Mult: "mul", gast.Div: "truediv", gast.FloorDiv: "floordiv",
            gast.Pow: "pow", gast.Mod: "mod"}


def _dunder_type(value, facts, seen) -> str:
    """``o + 1.0`` (``1.0 + o``) of an object argument ``o`` whose class's ``__add__`` (``__radd__``) is the user's
    function and a Python number: the type of what that function returns (``_helper_type``; was not known, a 1x1
    dlarray where Python gives its float, red57b W3)."""
    name = _DUNDERS.get(type(value.op))
    if name is None:
        return ""
    for obj, other, dunder in ((value.left, value.right, f"__{name}__"), (value.right, value.left, f"__r{name}__")):
        kind = _kind(obj, facts, set())
        if not (isinstance(kind, tuple) and kind[:1] == ("obj",) and len(kind) > 1 and isinstance(kind[1], type)):
            continue
        if not (isinstance(other, gast.Constant) and type(other.value) in (int, float) or
                other is value.right and isinstance(other, gast.Name) and _scalar(other, facts, 0)):
            return ""               # (another operand's own operator may run first)
        fn = getattr(kind[1], dunder, None)
        if not isinstance(fn, types.FunctionType):
            return ""
        call = getattr(value, "sct_dunder_call", None)      # (kept with the node: _helper_type's memo is by id)
        if call is None or call.func.id != dunder:
            call = gast.Call(func=gast.Name(id=dunder, ctx=gast.Load(), annotation=None, type_comment=None),
                             args=[obj, other], keywords=[])
            value.sct_dunder_call = call
        return _helper_type(fn, call, facts, seen)
    return ""


def _a_dtype(node, facts) -> bool:
    """Is ``node`` a type or dtype the function reads (``float``, ``np.float32`` of ``p.astype(float)``)?"""
    resolver = getattr(facts.activity, "resolver", None)
    if resolver is None or isinstance(node, gast.Name) and node.id in resolver.locals:
        return False
    if isinstance(node, gast.Name) and node.id in ("float", "int", "bool", "complex"):
        return True
    if isinstance(node, gast.Attribute) and isinstance(node.value, gast.Name) and \
            node.value.id not in resolver.locals and resolver.resolve_name(node.value.id) is np:
        return isinstance(getattr(np, node.attr, None), (type, np.dtype))         # (np.float32)
    return False


_UNWRITING_MODULES = frozenset(("numpy", "builtins", "math", "sct", "runtime"))


def _may_be_filled(bound, facts) -> bool:
    """Is ``bound``, a plain value a name is bound to, a list or tuple written out or a helper's result, whose items
    the function may write after (``_contents_type``)?"""
    return isinstance(bound, (gast.List, gast.Tuple)) or isinstance(bound, gast.Call) and _helper(facts, bound) is not None


def _contents_type(name: str, facts, seen) -> str:
    """"plain" for the list (or tuple of lists) ``name`` holds, plain where it was made, where all the function
    writes into it after is plain too and it is handed to no call that may write into it (sct/contents_written.py:
    ``hs = []`` then ``hs.append(h)`` of a dlarray h gave ``np.stack(hs)`` as numpy's array, where Python's is a
    dlarray); else not known."""
    contents = getattr(facts, "contents", None)
    if contents is None:
        return ""
    writes, calls = contents().reach(name)
    for call in calls:
        if module_top(facts.activity.call_info(call).obj) not in _UNWRITING_MODULES and not _counting_read(call, facts) \
                and not _namedtuple_built(facts.activity.call_info(call).obj):
            return ""
    return "plain" if all(v is not None and (isinstance(v, gast.Name) and v.id == name or _type(v, facts, seen) ==
                                             "plain") for v in writes) else ""


def _property_call(call) -> bool:
    """Is ``call`` the normalizer's read of a property, ``__sct_property_3_Sched_lr(s)`` (sct/properties.py)?"""
    return isinstance(call.func, gast.Name) and call.func.id.startswith("__sct_property_") and \
        len(call.args) == 1 and not call.keywords


def _property_call_of(fdef, getter, facts):
    return next(n for n in walk_nodes(fdef) if isinstance(n, gast.Call) and _property_call(n) and
                facts.activity.call_info(n).obj is getter)


def _counting_read(call, facts) -> bool:
    """Is ``call`` the read of a property whose getter only rebinds number fields of its object (``s_lr =
    __sct_property_3_Sched_lr(s)``, sct/properties.py ``counting_getter``)?  It writes into no list or dict
    (``lr = s.lr; t = s.t``: lr was not known, a 1x1 dlarray, red57b W4)."""
    from .properties import counting_getter
    return _property_call(call) and counting_getter(facts.activity.call_info(call).obj, _kind(call.args[0], facts, set()))


def _global_type(name: str, facts) -> str:
    """A name the code reads but never binds: a global's (or a closure cell's) value, plain where it is a number or a
    numeric ndarray (``labels`` in ``np.argmax(y, 1) == labels``).  A name the code guards anyway is read as guarded;
    another, a global of the function's module, is plain where no function it reaches rebinds it during the call,
    guarded by its type alone (rebinding it to a dlarray compiles anew; its value is not guarded, so code that rebinds
    it during the call is not refused for it: comp55's guard was, test_redteam_dec18y)."""
    resolver = getattr(facts.activity, "resolver", None)
    if resolver is None or name in resolver.locals:
        return ""
    if name in getattr(resolver, "guards", ()):
        return "plain" if _plain_value(resolver.resolve_name(name)) else ""
    fn = getattr(resolver, "fn", None)
    entry = getattr(resolver, "entry", fn)
    namespace = getattr(fn, "__globals__", None)
    if namespace is None or entry is None or name in fn.__code__.co_freevars:
        return ""
    from .global_writes import rebound_global
    value = namespace.get(name)
    plain = _plain_value(value)
    if plain and rebound_global(entry, {name}, namespace, also=(fn,)) is not None:
        return ""
    if plain or not (callable(value) or isinstance(value, types.ModuleType)):
        from .cache import Guard
        from .options import _Lookup
        key = f"__sct_plain_global_{name}_{id(namespace)}"     # (plain or not, as when compiled: guarded both ways)
        resolver.guards.setdefault(key, Guard(_Lookup(lambda: _plain_value(namespace.get(name))), key, plain))
    return "plain" if plain else ""


def _plain_value(value) -> bool:
    """A number, a numeric ndarray or numpy scalar: plain in Python (no dlarray)."""
    return type(value) in (float, int, bool, complex) or type(value) is np.ndarray and value.dtype.kind in "biufc" or \
        isinstance(value, np.generic) and value.dtype.kind in "biufc"


def _name_types(facts) -> dict:
    """The types of names read so far for ``facts`` whose reading met no name again (``_type``'s memo)."""
    memo = getattr(facts, "_sct_name_types", None)
    if memo is None:
        memo = {}
        try:
            facts._sct_name_types = memo
        except AttributeError:      # (facts that take no new attribute: no memo)
            pass
    return memo


_BUDGET = 200_000                   # reads of expressions for one facts: beyond, not known (a long loop's names met
                                    # again are read anew from each read: no memo)


def _spent(facts) -> bool:
    spent = getattr(facts, "_sct_type_reads", 0) + 1
    try:
        facts._sct_type_reads = spent
    except AttributeError:
        return False
    return spent > _BUDGET


def _partials(facts) -> int:
    return getattr(facts, "_sct_type_partials", 0)


def _note_partial(facts) -> None:
    """A name met again: what is read above it depends on where it was read from."""
    try:
        facts._sct_type_partials = _partials(facts) + 1
    except AttributeError:
        pass


def _of_dlarray(receiver) -> str:
    """An item, a method's result or an attribute (``_DL_METHODS``, ``_DL_ATTRIBUTES``) of a value of type
    ``receiver``: a dlarray where it surely is one (a name met again: where that name is one); else not known."""
    if receiver == "dl":
        return "dl"
    return _CYCLE_DL if receiver in (_CYCLE, _CYCLE_DL) else ""


def _reaching_type(bound, facts) -> str:
    """The type of ``bound``, the value of a top-level binding a read sees (reaching_bindings): those before it
    read first, in order, each once (a chain of 2,000 statements read one after another, not recursively)."""
    memo, busy = facts.reach_types, facts.reach_busy
    if id(bound) in memo:
        return memo[id(bound)]
    if id(bound) in busy:           # (met again through another name's bindings: as those say)
        _note_partial(facts)
        return _CYCLE
    at = facts.reach_order_at.get(id(bound))
    for i in range(facts.reach_done, at) if at is not None else ():
        _reaching_type(facts.reach_order[i], facts)         # (those before it first, in order)
        facts.reach_done = max(facts.reach_done, i + 1)
    if id(bound) in memo:
        return memo[id(bound)]
    busy.add(id(bound))
    partial = _partials(facts)
    try:
        found = _type(bound, facts, set())
    finally:
        busy.discard(id(bound))
    if _partials(facts) == partial:
        memo[id(bound)] = found
    return found


def _item_type(holder, holder_type, facts) -> str:
    """An item of the expression ``holder`` of type ``holder_type``: a dlarray's is one; a plain value's where
    nothing can have changed it since it was made (a tuple or list written out there, an array's shape, or a name
    bound only to shapes: ``x.shape[0]``, ``[c, 1.0][0]``) is plain.  (A list bound to a name is not: an append
    or a write of an item may have put a dlarray into it.)"""
    if holder_type != "plain":
        return _of_dlarray(holder_type)
    if isinstance(holder, gast.Name):
        binds = facts.bindings().get(holder.id) or [None]
        return "plain" if all(isinstance(b, gast.Attribute) and b.attr == "shape" for b in binds) else ""
    return "plain" if isinstance(holder, (gast.List, gast.Tuple)) or \
        isinstance(holder, gast.Attribute) and holder.attr == "shape" else ""


def _array_argument(holder, facts) -> bool:
    """Is ``holder`` a parameter given a numpy array of numbers (its kind) and never bound again: its items and
    slices are numpy's whatever is written into it."""
    if not isinstance(holder, gast.Name) or holder.id not in facts.params or facts.bindings().get(holder.id) or \
            getattr(facts, "entry", None) is not None:
        return False
    kind = facts.activity.kinds.get(holder.id)
    return isinstance(kind, tuple) and len(kind) > 1 and kind[0] == "nd" and \
        np.dtype(kind[1] if kind[1] is not None else float).kind in "biufc"


def _entry_type(name, facts) -> str:
    """The type of the parameter ``name`` as the call gives it: a helper's (``_helper_type``'s ``entry``), or
    the function's own argument's where it is a number or an array (its kind; a list may be changed)."""
    entry = getattr(facts, "entry", None)
    if entry is not None:
        return entry.get(name, "")
    kind = facts.activity.kinds.get(name)
    return _kind_type(kind) if leaf_kind(kind) is not None else ""


def _agreed(types) -> str:
    """One type for what all the bindings give, a binding met again (_CYCLE, _CYCLE_DL) taken to be what the
    others are (the greatest fixed point: ``Y = fullyconnect(X, ...)`` then ``Y = batchnorm(Y, ...)``)."""
    types = set(types)
    rest = types - {_CYCLE, _CYCLE_DL}
    if not rest:
        return _CYCLE_DL if _CYCLE_DL in types else _CYCLE
    if len(rest) != 1:
        return ""
    found = rest.pop()
    return "" if found == "plain" and _CYCLE_DL in types else found


def _operands(*types) -> str:
    """An operation's result (an operator, an op, a deep-learning function): a dlarray where an operand is one,
    plain where all are."""
    if "dl" in types:
        return "dl"
    if _CYCLE_DL in types or _CYCLE in types and "" in types:
        return _CYCLE_DL
    if "" in types:
        return ""
    return _CYCLE if _CYCLE in types else "plain"


def argument_kind(value, facts, fields: bool = False):
    """The argument kind the expression ``value`` surely has (``cfg["sched"]`` of an argument ``cfg``), or None;
    ``fields``: a field of an argument object too (``trainer.sched``), for a caller that proved nothing of the
    user's runs that could set it (closed_object)."""
    return _kind(value, facts, set(), fields)


def _kind(value, facts, seen, fields: bool = False):
    """The argument kind ``value`` surely has: a parameter never bound again in the function, an item of one
    (by constant keys never written in the function), or a name every binding of which is such; else None."""
    if isinstance(value, gast.Name):
        if value.id in facts.params:
            return None if facts.bindings().get(value.id) else facts.activity.kinds.get(value.id)
        binds = facts.bindings().get(value.id)
        if not binds or value.id in seen or any(b is None for b in binds):
            return None
        seen.add(value.id)
        kinds = {_kind(b, facts, seen, fields) for b in binds}
        return kinds.pop() if len(kinds) == 1 else None
    if isinstance(value, gast.Call) and len(value.args) == 1 and not value.keywords and \
            isinstance(value.args[0], gast.Name) and facts.activity.call_info(value).obj is dict:
        return _kind(value.args[0], facts, seen, fields)    # (``state = dict(state)``: a copy holding the same items)
    if isinstance(value, gast.Subscript) and isinstance(value.slice, gast.Constant):
        if ("item", value.slice.value) in facts.activity.written_keys and \
                value.slice.value not in getattr(facts, "restored", lambda: ())():
            return None
        holder = _kind(value.value, facts, seen, fields)
        return child_kind(holder, value.slice.value) if holder is not None else None
    if fields and isinstance(value, gast.Attribute) and isinstance(value.ctx, gast.Load) and \
            ("attr", value.attr) not in facts.activity.written_keys:
        # (``trainer.sched`` of an argument object whose field the function never sets: its kind at entry; was
        # None, so ``trainer.sched.lr`` of a counting getter after a dlgradient was refused, red57b F1)
        holder = _kind(value.value, facts, seen, fields)
        return child_kind(holder, value.attr) if holder is not None and holder[:1] == ("obj",) else None
    return None


def _kind_type(kind) -> str:
    if isinstance(kind, tuple) and kind[:1] == ("dl",):
        return "dl"
    if isinstance(kind, tuple) and kind[:2] == ("seq", list) and all(_kind_type(k) == "plain" for k in kind[2]):
        return "plain"              # (a list of numbers and ndarrays: a log of losses kept in the state, red54u F2)
    return "plain" if leaf_kind(kind) is not None else ""


def _written_item_type(value, facts, seen) -> str:
    """``d[k]`` of a ``d`` whose kind is known where the function writes a ``k`` item (into any dict): what the
    argument's item is and what each such write stores, all one type (``p["w"] = p["w"] * 2`` of a dlarray)."""
    key = value.slice.value
    holder = _kind(value.value, facts, set())
    if facts.key_writes() is None:
        return ""
    if holder is None or ("key", key) in seen:
        return _CYCLE if ("key", key) in seen else ""
    seen.add(("key", key))
    try:
        found = [_kind_type(child_kind(holder, key))] if child_kind(holder, key) is not None else []
        found += [_type(v, facts, seen) for v in facts.key_writes().get(key, ())]
        return _agreed(found) if found else ""
    finally:
        seen.discard(("key", key))


def _any_item_type(value, facts, seen) -> str:
    """``p[k]`` of an argument's dict or list ``p`` by a key known only when it runs (``for k in p: p[k] = p[k] -
    lr * v[k]``): what all its items are and what every item write of the function stores (into any dict or list,
    by any key), all one type (heavy-ball momentum steps were refused: the stored value's type not known, red2_56
    F2)."""
    holder = _kind(value.value, facts, set())
    writes = getattr(facts, "all_key_writes", lambda: None)()
    if writes is None or not (isinstance(holder, tuple) and holder[:1] in (("seq",), ("map",))):
        return ""
    writes = _writes_into(value.value, writes, facts)
    if ("key", _ANY_KEY) in seen:
        _note_partial(facts)        # (met again: as the others say; not kept as the answer of the names on the way)
        return _CYCLE
    items = list(holder[2]) if holder[0] == "seq" else [k for _, k in holder[2]]     # (sct/kinds.py's layout)
    if not items:
        return ""
    seen.add(("key", _ANY_KEY))
    try:
        return _agreed([_kind_type(k) for k in items] + [_type(v, facts, seen) for vs in writes.values() for v in vs])
    finally:
        seen.discard(("key", _ANY_KEY))


_ANY_KEY = object()


def _writes_into(holder, writes, facts) -> dict:
    """``writes`` (key -> values written) less those into another parameter of the entry than ``holder``, where
    ``holder`` is a parameter never bound again whose items are written through (``facts.through()``): dlfeval
    refuses such a dict reached from another argument too (sct.api._refuse_aliased_writes), so ``st["t"] += 1`` stores nothing into ``p`` (red57a F3: an Adam step
    counting in ``st`` left the type of ``p[k]`` unknown, refused when it ran)."""
    by_root = getattr(facts, "root_writes", None)
    if by_root is None or not isinstance(holder, gast.Name) or holder.id not in facts.through() or \
            holder.id not in facts.params or facts.bindings().get(holder.id) or getattr(facts, "entry", None) is not None:
        return writes
    others = {id(v) for root, vs in by_root().items() if root != holder.id and root in facts.params and
              not facts.bindings().get(root) for v in vs}
    return {k: [v for v in vs if id(v) not in others] for k, vs in writes.items()}


def root_writes(fdef) -> Dict[str, list]:
    """name -> the values written into an item of what the name holds (``d[k] = v``: d)."""
    found: Dict[str, list] = {}
    for n in walk_nodes(fdef):
        if isinstance(n, gast.Assign):
            for t in n.targets:
                if isinstance(t, gast.Subscript) and isinstance(t.value, gast.Name):
                    found.setdefault(t.value.id, []).append(n.value)
    return found


def _output_type(value, facts, seen) -> str:
    """``t[i]``: an output of a call returning several arrays (``Y, m, v = batchnorm(...)``) or an item of a
    tuple written out."""
    holder = value.value.id
    reaching = getattr(facts, "reaching", None)
    if reaching is not None and id(value.value) in reaching:
        binds = [reaching[id(value.value)]]     # (the binding this read sees: no cycle, it is an earlier one)
    else:
        binds = facts.bindings().get(holder)
        if holder in seen:
            return _CYCLE
    if not binds or holder in facts.params or any(b is None for b in binds):
        return ""
    seen.add(holder)
    try:
        found = []
        for b in binds:
            if isinstance(b, gast.Call) and _array_function(facts, b):
                found.append(_call_type(b, facts, seen))
            elif isinstance(b, gast.Call) and _helper(facts, b) is not None:
                found.append(_helper_type(_helper(facts, b), b, facts, seen, value.slice.value))
            elif isinstance(b, gast.Tuple) and -len(b.elts) <= value.slice.value < len(b.elts):
                found.append(_type(b.elts[value.slice.value], facts, seen))
            else:
                found.append(_item_type(value.value, _type(b, facts, seen), facts))  # (h[0] of a dlarray h)
        return _agreed(found)
    finally:
        seen.discard(holder)


def _array_function(facts, call) -> bool:
    """Is ``call`` an op or one of sct's deep-learning functions (its results arrays, dlarrays where one of its
    arguments is one)?"""
    info = facts.activity.call_info(call)
    if info.kind == CallKind.OP:
        return True
    module = (getattr(info.obj, "__module__", None) or "").replace("sct.runtime.", "runtime.", 1)
    return info.kind == CallKind.FUNCTION and module in ("runtime.dlfun", "runtime.nn")


def _call_type(call, facts, seen) -> str:
    info = facts.activity.call_info(call)
    if info.kind == CallKind.CREATE:
        return "dl"
    if info.kind == CallKind.STOP:
        return "plain"              # extractdata: the numbers, an ndarray
    if _number_type(info.obj):
        return "plain"              # (np.float64(h.sum()): numpy's float64 in Python; was "dl", red54u W2)
    if _plain_builtin(info.obj):
        return "plain"              # (len(x) of a dlarray: Python's int, so 0.5 * len(x) a float; was not known, a
                                    # 1x1 dlarray, red57a W8)
    if getattr(info.obj, "__module__", None) == "math" and getattr(info.obj, "__name__", "") != "prod":
        return "plain"              # (math.expm1(v[1]) of a dlarray v: Python's float; math.prod multiplies its items:
                                    # a dlarray of dlarrays; was not known, a 0-d dlarray, red58a W1)
    if _number_builtin(info.obj):
        found = [_type(a, facts, seen) for a in list(call.args) + [k.value for k in call.keywords]]
        return "plain" if found and all(t == "plain" for t in found) else ""   # (max(cfg.lr, 0.01) of numbers,
                                                                                # red57b W3)
    if info.kind == CallKind.SITE and getattr(info.obj, "__name__", "") == "dlgradient":
        return "dl"                 # (its gradients are dlarrays, `g["W"]` too: an optimiser's moment in the state,
                                    # `state["opt"]["m"] = 0.9 * state["opt"]["m"] + 0.1 * g["W"]`, was not known
                                    # and refused when stored, red2st53 a19)
    if _helper(facts, call) is not None:
        return _helper_type(info.obj, call, facts, seen)
    module = (getattr(info.obj, "__module__", None) or "").split(".")[0]
    if module == "numpy" and getattr(info.obj, "__name__", "") in _NDARRAY_MAKERS:
        return "plain"              # (np.asarray(h) of a dlarray h: an ndarray in Python; was "dl", red2st53 F1)
    if module == "numpy" and _dlarray_of_dlarray(info.obj, call, facts, seen):
        return "dl"                 # (np.zeros_like(h), np.isfinite(h), np.all(h > 0) of a dlarray h: dlarrays in
                                    # Python, a 0-d one of all/any; was not known, tested as numpy's, red57c W2)
    if module == "numpy" and getattr(info.obj, "__name__", "") in _INTEGER_FUNCTIONS:
        return "plain"              # (np.argmax(y, 1) of a dlarray y: numpy's integers; an accuracy
                                    # np.mean(np.argmax(y, 1) == labels) came back as a dlarray, red55u W2)
    numpy_call = module == "numpy" and info.kind in (CallKind.OP, CallKind.NONDIFF, CallKind.PLAIN)
    if not (_array_function(facts, call) or numpy_call):
        return ""
    listed = module == "numpy" and getattr(info.obj, "__name__", "") not in _ITEMS_DISPATCHED
    found = _operands(*["plain" if listed and _a_list(a, facts) else _type(a, facts, seen)
                        for a in list(call.args) + [k.value for k in call.keywords]])
    if _array_function(facts, call):
        return found
    return found if found in ("plain", _CYCLE) else ""       # (numpy's other functions: plain of plain)


# numpy's functions whose result is a dlarray (runtime/dlarray.py __array_function__, __array_ufunc__) where their
# first argument is one, given as many positional arguments as listed and no keyword but these (np.zeros_like(h,
# dtype=int) is numpy's)
_DLARRAY_RESULTS = {"zeros_like": 1, "ones_like": 1, "empty_like": 1, "full_like": 2, "isfinite": 1, "isnan": 1,
                    "isinf": 1, "signbit": 1, "logical_not": 1, "all": 1, "any": 1, "isclose": 2}
_DLARRAY_RESULT_KEYWORDS = frozenset(("axis", "keepdims"))


def _dlarray_of_dlarray(obj, call, facts, seen) -> bool:
    """Is ``call`` of numpy's ``obj`` (``_DLARRAY_RESULTS``) surely a dlarray in Python: its first argument one?"""
    count = _DLARRAY_RESULTS.get(getattr(obj, "__name__", ""))
    return count is not None and len(call.args) == count and \
        not any(isinstance(a, gast.Starred) for a in call.args) and \
        all(k.arg in _DLARRAY_RESULT_KEYWORDS for k in call.keywords) and _type(call.args[0], facts, seen) == "dl"


# numpy's functions that hand a list argument's items to their dlarrays (np.stack(hs) of a list of dlarrays is a
# dlarray); numpy's others read a list as np.asarray does, an ndarray whatever its items (np.mean(losses) of a list
# of dlarrays is numpy's float64)
_ITEMS_DISPATCHED = frozenset(("stack", "vstack", "hstack", "dstack", "column_stack", "row_stack", "concatenate",
                               "concat", "block", "choose", "select", "piecewise", "multi_dot", "result_type",
                               "broadcast_arrays", "meshgrid", "ix_", "einsum", "lexsort"))


def _a_list(node, facts) -> bool:
    """Is ``node`` surely a Python list (written out, or a name every binding of which is one)?"""
    if isinstance(node, (gast.List, gast.ListComp)):
        return True
    if not isinstance(node, gast.Name) or node.id in facts.params:
        return False
    binds = facts.bindings().get(node.id)
    return bool(binds) and all(isinstance(b, (gast.List, gast.ListComp)) for b in binds)


def _helper(facts, call):
    """The user's plain function ``call`` calls (a helper in the user's file), or None."""
    info = facts.activity.call_info(call)
    fn = info.obj
    if info.kind != CallKind.FUNCTION or not isinstance(fn, types.FunctionType) or fn.__code__.co_flags & 0x2A0 or \
            (getattr(fn, "__module__", None) or "").split(".")[0] in ("sct", "runtime") or _array_function(facts, call):
        return None                 # (a generator or a coroutine; sct's own functions: _array_function)
    return fn


def _helper_type(fn, call, facts, seen, index=None) -> str:
    """The type of what the user's helper ``fn`` returns (its ``index``-th item where given) for ``call``, read from
    its source: each return's expression, its parameters' types those of the call's arguments.  (was: not known,
    ``hn = cell(p, state["h"]); state["h"] = hn`` refused when stored where the expression written inline was
    stored as the dlarray Python leaves, red54u F4; ``ex(loss)`` of a helper around extractdata too, F2)"""
    mark = ("helper", fn)
    if any(type(m) is tuple and m[:1] == ("helper",) and m[1] is fn for m in seen) or \
            any(isinstance(a, gast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords):
        return ""                   # (a helper calling itself: not known)
    from .parse import function_ast
    try:
        fdef, _, _ = function_ast(fn)
    except Exception:
        return ""
    args = fdef.args
    positional = [a.id for a in list(getattr(args, "posonlyargs", None) or []) + list(args.args)]
    if args.vararg is not None or args.kwarg is not None or args.kwonlyargs or len(call.args) > len(positional) or \
            not fdef.body or not isinstance(fdef.body[-1], gast.Return):
        return ""                   # (a body that may end without a return gives None)
    given = {p: _type(a, facts, seen) for p, a in zip(positional, call.args)}
    for k in call.keywords:
        if k.arg not in positional or k.arg in given:
            return ""
        given[k.arg] = _type(k.value, facts, seen)
    defaults = dict(zip(positional[len(positional) - len(args.defaults):], args.defaults))
    for p in positional:
        if p not in given:
            given[p] = _type(defaults[p], facts, seen) if isinstance(defaults.get(p), gast.Constant) else ""
    memo = facts.__dict__.setdefault("helper_types", {}) if hasattr(facts, "__dict__") else {}
    key = (id(call), index, tuple(sorted(given.items())), bool(getattr(facts, "typing_outputs", False)))
    if key in memo:
        return memo[key]
    bindings = name_bindings(fdef)
    calls = _HelperCalls(fn, fdef, set(bindings) | set(positional), getattr(facts.activity, "resolver", None))
    # (the caller's writes before the call: an item written there is not the argument's at entry; was: read as it,
    # `state["lr"] = state["lr"] * np.sum(p); state["cp"] = get(state)` stored numpy's float64 where Python stores
    # the dlarray, red2_54 W3)
    calls.written_keys = getattr(facts.activity, "written_keys", None) or frozenset()
    arguments = dict(zip(positional, call.args))
    arguments.update({k.arg: k.value for k in call.keywords})
    for p, a in arguments.items():      # (the arguments' kinds: ``p["w"]`` of the caller's dict p a dlarray)
        kind = _kind(a, facts, set())
        if kind is not None and p not in bindings and (leaf_kind(kind) is not None or _items_read(fdef, p)):
            calls.kinds[p] = kind
    fields = _closed_fields(fn, fdef, arguments, bindings, calls, facts)
    inner = types.SimpleNamespace(params=set(positional), given={p: t for p, t in given.items() if p not in bindings},
                                  entry=given, fields=fields, fdef=fdef,
                                  bindings=lambda: bindings, key_writes=lambda: None, restored=lambda: (),
                                  activity=calls, contents=once(contents_written, fdef))
    inner_seen = {m for m in seen if type(m) is tuple and m[:1] == ("helper",)} | {mark}
    found = []
    for r in walk_no_defs(fdef):
        if not isinstance(r, gast.Return):
            continue
        value = r.value
        if value is None:
            return ""
        if index is not None:
            if not isinstance(value, gast.Tuple) or not -len(value.elts) <= index < len(value.elts) or \
                    any(isinstance(e, gast.Starred) for e in value.elts):
                return ""
            value = value.elts[index]
        found.append(_type(value, inner, inner_seen))
    found_type = _agreed(found) if found else ""
    found_type = found_type if found_type in ("dl", "plain") else ""
    if all(t in ("dl", "plain", "") for t in given.values()) and inner_seen == {mark}:
        memo[key] = found_type      # (a type met again while read, _CYCLE: as where it is read)
    return found_type


def _closed_fields(fn, fdef, arguments, bindings, calls, facts) -> dict:
    """parameter -> {field: "plain"} for a parameter of the helper ``fn`` (source ``fdef``) given the caller's object
    argument whose fields hold Python's numbers (its kind), where neither the caller (the function whose outputs are
    typed: ``facts.fdef``) nor the helper can change them but by ``p.field = v`` the helper writes (typed there):
    each reads the object only for its fields and hands it to nothing but this helper (the caller: its property's
    getter, ``lr = sched.lr``), and calls nothing else of the user's (``closed_object``).  A property counting its
    steps, ``self.t += 1; return self.lr0 / self.t``, is then Python's float (was a 1x1 dlarray, red57a W8)."""
    caller = getattr(facts, "fdef", None) if getattr(facts, "typing_outputs", False) else None
    if caller is None:
        return {}
    found = {}
    for p, a in arguments.items():
        if not isinstance(a, gast.Name) or p in bindings:
            continue
        kind = _kind(a, facts, set(), True)     # (an argument, an item or field of one: ``sched = cfg["sched"]``)
        if not (isinstance(kind, tuple) and kind[:1] == ("obj",) and len(kind) > 2 and isinstance(kind[2], tuple)):
            continue
        memo = facts.__dict__.setdefault("closed_objects", {})     # (each caller's name and getter walked once)
        if (a.id, fn) not in memo:
            memo[(a.id, fn)] = closed_object(caller, a.id, facts.activity, fn)
        if not (memo[(a.id, fn)] and closed_object(fdef, p, calls, None)):
            continue
        found[p] = {key: "plain" for key, k in kind[2]
                    if isinstance(key, str) and isinstance(k, tuple) and k[:1] == ("num",)}
    return found


def closed_object(fdef, name, activity, fn) -> bool:
    """Does ``fdef`` read ``name`` only for its fields (``name.a``, no method called) or as the argument of
    ``fn``'s calls (the caller's getter, ``rt.property_read_here``'s check), and call nothing but numpy's, Python's
    numbers and size builtins, sct's sites and ``fn``?  The caller (``fn`` given) sets no field of any object."""
    parents = {}
    for n in walk_nodes(fdef):
        for child in gast.iter_child_nodes(n):
            parents[id(child)] = n
    for n in walk_nodes(fdef):
        if n is not fdef and isinstance(n, (gast.Global, gast.Nonlocal, gast.Lambda, gast.FunctionDef, gast.ClassDef,
                                            gast.Yield, gast.YieldFrom, gast.Await, gast.With)):
            return False
        if isinstance(n, gast.Call) and not _closed_call(n, activity, fn):
            return False
        if fn is not None and isinstance(n, gast.Attribute) and not isinstance(n.ctx, gast.Load):
            return False                        # (the caller sets a field: of this object or one that may be it)
        if isinstance(n, gast.Name) and n.id == name and not isinstance(n.ctx, gast.Param):
            up = parents.get(id(n))
            if not isinstance(n.ctx, gast.Load):
                if fn is not None and isinstance(up, gast.Assign) and up.targets == [n]:
                    continue                    # (the caller's ``cfg_sched = cfg["sched"]``: its kind, _kind)
                return False
            if isinstance(up, gast.Attribute) and up.value is n:
                above = parents.get(id(up))
                if isinstance(above, gast.Call) and above.func is up:
                    return False                # (a method: it may change the object)
                if isinstance(above, (gast.Tuple, gast.List, gast.Starred)) and not isinstance(up.ctx, gast.Load):
                    return False                # (an unpacked store: not typed here)
                continue
            if isinstance(up, gast.Call) and n in up.args and fn is not None and \
                    (activity.call_info(up).obj is fn or isinstance(up.func, gast.Attribute) and
                     up.func.attr == "property_read_here"):
                continue
            return False
    return True


def _closed_call(call, activity, fn) -> bool:
    if isinstance(call.func, gast.Attribute) and call.func.attr in ("property_read_here", "require_unpacked_exactly"):
        return True                             # (sct's checks: the class's getter is still the one read; ``a, b =
                                                # helper(x, cfg)`` gives two items, as len() asks)
    info = activity.call_info(call)
    if info.kind in (CallKind.OP, CallKind.SITE, CallKind.STOP, CallKind.CREATE) or \
            fn is not None and info.obj is fn or _number_type(info.obj) or _plain_builtin(info.obj) or \
            _number_builtin(info.obj) or info.obj is range:
        return True
    if _namedtuple_built(info.obj):
        return True                             # (a namedtuple built: its generated __new__ runs no code of the
                                                # user's; red57b F2: cfg["sched"].lr was refused after St(1.0, 1.5))
    module = (getattr(info.obj, "__module__", None) or "").split(".")[0]
    return module in ("numpy", "math") and info.kind in (CallKind.NONDIFF, CallKind.PLAIN)


def _namedtuple_built(obj) -> bool:
    """Is ``obj`` a namedtuple class whose ``__new__`` namedtuple wrote, or sct's ``_replace`` of one: a call that
    runs no code of the user's and writes into nothing?"""
    return isinstance(obj, type) and issubclass(obj, tuple) and _stored_fields(obj) is not None or \
        getattr(obj, "__name__", "") == "namedtuple_replaced" and module_top(obj) in ("sct", "runtime")


def _field_type(value, facts, seen) -> str:
    """``p.a`` of a closed object parameter ``p`` (``_closed_fields``): its type at entry (a Python number) agreed
    with each ``p.a = v`` and ``p.a += v`` of the helper's; "" where not known."""
    holder, attr = value.value.id, value.attr
    if facts.fields[holder].get(attr) != "plain":
        return ""
    mark = ("field", holder, attr)
    if mark in seen:
        _note_partial(facts)
        return _CYCLE
    seen.add(mark)
    try:
        found = ["plain"]
        for n in walk_nodes(facts.fdef):
            targets = n.targets if isinstance(n, gast.Assign) else [n.target] \
                if isinstance(n, (gast.AugAssign, gast.AnnAssign)) else []
            for t in targets:
                if isinstance(t, gast.Attribute) and isinstance(t.value, gast.Name) and t.value.id == holder and \
                        t.attr == attr:
                    if n.value is None:
                        continue
                    written = _type(n.value, facts, seen)
                    found.append(_operands(_CYCLE, written) if isinstance(n, gast.AugAssign) else written)
        return _agreed(found)
    finally:
        seen.discard(mark)


def once(fn, *args):
    """A function giving ``fn(*args)``, computed at its first call."""
    done = []

    def get():
        if not done:
            done.append(fn(*args))
        return done[0]
    return get


def _items_read(fdef, name) -> bool:
    """Is ``name`` read in ``fdef`` only as ``name[k]`` (k a constant), never written into, handed on or changed
    (its items then those of the caller's container)?"""
    items = set()
    for n in walk_nodes(fdef):
        if isinstance(n, gast.Subscript) and isinstance(n.value, gast.Name) and n.value.id == name:
            if not isinstance(n.slice, gast.Constant) or not isinstance(n.ctx, gast.Load):
                return False
            items.add(id(n.value))
    return all(id(n) in items for n in walk_nodes(fdef) if isinstance(n, gast.Name) and n.id == name and
               not isinstance(n.ctx, gast.Param))


class _HelperCalls:
    """The calls of a helper's source, classified as the activity analysis classifies the function's own
    (``call_info``); its parameters' kinds are not known (``kinds``)."""

    def __init__(self, fn, fdef, local_names, outer=None):
        from .analysis import Resolver
        self.kinds = {}
        self.written_keys = frozenset()
        self._resolver = Resolver(fn, local_names | local_names_of(fdef))
        self._infos = {}
        self._fn = self.fn = fn
        self.entry = getattr(outer, "entry", getattr(outer, "fn", None))    # (the compiled function: _global_type)
        self.guards = getattr(outer, "guards", None)    # the compiled code's: the globals read here guarded there
        self.locals = self._resolver.locals

    @property
    def resolver(self):
        return self if self.guards is not None else None

    def resolve_name(self, name: str):
        """``name``'s value in the helper's globals or cells, guarded by the caller's code (``_global_type``)."""
        value = self._resolver.resolve_name(name)
        guard = self._resolver.guards.get(name)
        if guard is None:
            return None
        key = f"{name} (read by {self._fn.__qualname__})"
        if key not in self.guards:
            self.guards[key] = guard
        return value

    def call_info(self, call):
        from .analysis import classify_call
        found = self._infos.get(id(call))
        if found is None:
            try:
                found = classify_call(call, self._resolver)
            except Exception:       # (a call the classification refuses: not known)
                from .analysis import CallInfo
                found = CallInfo(CallKind.PLAIN)
            self._infos[id(call)] = found
        return found


# Python's builtins whose results Python makes an int or a bool whatever they are given (len checks what __len__
# gives: an int)
_PLAIN_BUILTINS = frozenset((len, isinstance, issubclass, hasattr, callable, id, range))


def _plain_builtin(obj) -> bool:
    try:
        return obj in _PLAIN_BUILTINS
    except TypeError:               # (an object that cannot be hashed)
        return False


# ... and those giving one of their arguments or a number computed from them (plain of plain)
_NUMBER_BUILTINS = frozenset((max, min, abs, round, pow, divmod))


def _number_builtin(obj) -> bool:
    try:
        return obj in _NUMBER_BUILTINS
    except TypeError:
        return False


def _number_type(obj) -> bool:
    try:
        return obj in _NUMBER_TYPES
    except TypeError:               # (an object that cannot be hashed)
        return False


def output_types(fdef, facts):
    """What dlfeval gives back where plain Python's type is known and is no dlarray (dlfeval wraps the rest as
    dlarrays: sct.api.kept_outputs): None, or ``("one", t)`` for a function returning one value, ``("tuple", n,
    {i: t})`` for one returning tuples of n values; t is "plain" (Python's number or ndarray: ``float(loss)``,
    ``loss.item()``, ``lr * 0.5``, ``1.0``), ``("arg", name)`` (a dict, list, tuple or object argument returned as it
    was given: the caller's object itself; writes into it are made into the caller's or refused) or ``("items", keys)`` (a copy of a dict argument, ``state = dict(state)``, whose
    items at ``keys`` are Python's numbers or ndarrays).  (was: every float came back as a 1x1 dlarray and a
    returned dict was a new one, red54u W1)"""
    facts.fdef = fdef
    facts.typing_outputs = True         # (what is given back: the fields of closed objects read, _closed_fields)
    facts.fields = _entry_fields(fdef, facts)
    _forget(facts)                      # (types read before for the write checks, without the fields known here)
    try:
        return _output_types(fdef, facts)
    finally:
        facts.typing_outputs = False
        facts.fields = None
        _forget(facts)


def _forget(facts) -> None:
    """Drop the memos of names' and bindings' types (``_name_types``, ``_reaching_type``)."""
    if hasattr(facts, "_sct_name_types"):
        facts._sct_name_types = {}
    if hasattr(facts, "reach_types"):
        facts.reach_types, facts.reach_done = {}, 0


def _entry_fields(fdef, facts) -> dict:
    """name -> {field: "plain"} for the function's own object arguments (or items of them) whose fields hold Python's
    numbers (their kinds) and that it reads only for fields, handing them to no call of the user's (``closed_object``),
    where it sets no field but ``p.a = v`` of those (typed there, ``_field_type``): ``cfg.lr * cfg.decay``,
    ``max(cfg.lr, 0.01)`` of a dataclass ``cfg`` are Python's floats (were 1x1 dlarrays, red57b W3)."""
    found = {}
    # (the arguments, and the names bound once to an item of one: the normalizer's ``cfg_item = cfg["sched"]``)
    items = [n for n, b in facts.bindings().items() if n not in facts.params and b and len(b) == 1 and
             isinstance(b[0], gast.Subscript)]
    for p in list(facts.params) + items:
        kind = _kind(gast.Name(id=p, ctx=gast.Load(), annotation=None, type_comment=None), facts, set())
        if not (isinstance(kind, tuple) and kind[:1] == ("obj",) and len(kind) > 2 and isinstance(kind[2], tuple)):
            continue
        getters = {facts.activity.call_info(n).obj for n in walk_nodes(fdef) if isinstance(n, gast.Call) and
                   _property_call(n) and isinstance(n.args[0], gast.Name) and n.args[0].id == p}
        getter = getters.pop() if len(getters) == 1 else None
        if getter is not None and not _counting_read(_property_call_of(fdef, getter, facts), facts):
            continue
        if not getters and closed_object(fdef, p, facts.activity, None) or \
                getter is not None and closed_object(fdef, p, facts.activity, getter):
            found[p] = {key: "plain" for key, k in kind[2]
                        if isinstance(key, str) and isinstance(k, tuple) and k[:1] == ("num",)}
    stored = {n.value.id if isinstance(n.value, gast.Name) else None for n in walk_nodes(fdef)
              if isinstance(n, gast.Attribute) and not isinstance(n.ctx, gast.Load)}
    if not stored <= set(found) or stored and len(found) > 1 or \
            any(isinstance(n, gast.Attribute) and isinstance(n.ctx, gast.Del) for n in walk_nodes(fdef)):
        return {}                       # (a field set of another object: it may be one of these)
    return found


def _output_types(fdef, facts):
    returns = [n for n in walk_no_defs(fdef) if isinstance(n, gast.Return)]
    if not returns or any(r.value is None for r in returns) or \
            any(isinstance(n, (gast.Yield, gast.YieldFrom)) for n in walk_no_defs(fdef)):
        return None
    values = [_tuple_items(r.value, facts, 0) for r in returns]
    if all(v is not None for v in values):
        n = len(values[0])
        if any(len(v) != n for v in values):
            return None
        found = {i: _output_kept([v[i] for v in values], facts) for i in range(n)}
        found = {i: t for i, t in found.items() if t is not None}
        return ("tuple", n, found) if found else None
    if any(v is not None for v in values):
        return None
    found = _output_kept([r.value for r in returns], facts)
    return ("one", found) if found is not None else None


def _stored_by_key(fdef, name) -> bool:
    """Is the local ``name`` read in ``fdef`` only as ``name[k]`` (a read, or a write ``name[k] = v``), or as an item of
    a tuple or list written out (the normalizer's ``out_t = y, g, name``) or a return: nothing but those writes may
    put an item into its dict (no method, no alias, no helper given it)."""
    parents = {}
    for n in walk_nodes(fdef):
        for child in gast.iter_child_nodes(n):
            parents[id(child)] = n
    for n in walk_nodes(fdef):
        if isinstance(n, gast.Name) and n.id == name and isinstance(n.ctx, gast.Load):
            up = parents.get(id(n))
            if not (isinstance(up, gast.Subscript) and up.value is n or isinstance(up, (gast.Tuple, gast.List)) and
                    isinstance(parents.get(id(up)), (gast.Assign, gast.Return)) and parents[id(up)].value is up or
                    isinstance(up, gast.Return)):
                return False
    return True


def _tuple_items(value, facts, depth):
    """The items of the tuple the expression ``value`` surely is, as expressions (None where it is not known to be
    one): a tuple written out (``out_t = loss, g``, the normalizer's), ``a + b`` of two such, and ``t`` bound once to
    one of them or to a call of the user's helper every return of which is a tuple of n items (``t[0]``, ...,
    ``t[n-1]``: ``(loss, g) + metrics(y)``, whose items came back as dlarrays, red55u W2)."""
    if depth > 16:
        return None
    if isinstance(value, gast.Tuple):
        return None if any(isinstance(e, gast.Starred) for e in value.elts) else list(value.elts)
    if isinstance(value, gast.BinOp) and isinstance(value.op, gast.Add):
        left, right = _tuple_items(value.left, facts, depth + 1), _tuple_items(value.right, facts, depth + 1)
        return None if left is None or right is None else left + right
    if not isinstance(value, gast.Name) or value.id in facts.params:
        return None
    binds = facts.bindings().get(value.id)
    if not binds or len(binds) != 1 or binds[0] is None:
        return None
    if isinstance(binds[0], gast.Call):
        fn = _helper(facts, binds[0])
        n = _helper_tuple_length(fn) if fn is not None else None
        return None if n is None else [gast.Subscript(value=gast.Name(id=value.id, ctx=gast.Load(), annotation=None,
                                                                      type_comment=None),
                                                      slice=gast.Constant(value=i, kind=None), ctx=gast.Load())
                                       for i in range(n)]
    return _tuple_items(binds[0], facts, depth + 1)


def _helper_tuple_length(fn):
    """n where every return of the helper ``fn`` is a tuple of n items written out (it ends with one), else None."""
    from .parse import function_ast
    try:
        fdef, _, _ = function_ast(fn)
    except Exception:
        return None
    if not fdef.body or not isinstance(fdef.body[-1], gast.Return):
        return None
    lengths = {len(r.value.elts) if isinstance(r.value, gast.Tuple) and
               not any(isinstance(e, gast.Starred) for e in r.value.elts) else None
               for r in walk_no_defs(fdef) if isinstance(r, gast.Return)}
    return lengths.pop() if len(lengths) == 1 else None


def _output_kept(values, facts):
    """The entry of ``output_types`` for the returned expressions ``values`` (one per return), or None.  A
    container argument returned as given is the caller's object, asked first: "plain" where its items are
    (``[np.ones(2), 0.5]``) gave a new list of dlarrays (red2_55 W2).  A tuple or list written out
    (``return y, g, (s, 1.5)``) is ``("display", type, [t or None])``."""
    if len(values) == 1 and isinstance(values[0], gast.Name) and values[0].id in facts.params and \
            not facts.bindings().get(values[0].id):
        kind = facts.activity.kinds.get(values[0].id)
        if isinstance(kind, tuple) and kind[0] in ("map", "seq", "obj"):
            return ("arg", values[0].id)
    display = values[0] if len(values) == 1 else None
    if isinstance(display, gast.Name) and display.id not in facts.params:
        binds = facts.bindings().get(display.id)          # (the normalizer's ``out_t = s, s_lr``)
        display = binds[0] if binds and len(binds) == 1 and isinstance(binds[0], gast.Tuple) else None
    if isinstance(display, (gast.Tuple, gast.List)) and not any(isinstance(e, gast.Starred) for e in display.elts):
        items = [_output_kept([e], facts) for e in display.elts]
        if any(t is not None for t in items):
            return ("display", tuple if isinstance(display, gast.Tuple) else list, items)
    record = _record_kept(values, facts)
    if record is not None:
        return record
    field = _argument_field(values, facts)
    if field is not None:
        return field
    if all(python_type(v, facts) == "plain" for v in values):
        return "plain"
    if len(values) == 1 and isinstance(values[0], gast.Dict):
        return _dict_items(values[0], facts)
    if len(values) != 1 or not isinstance(values[0], gast.Name):
        return None
    name = values[0].id
    kinds = facts.activity.kinds
    binds = facts.bindings().get(name)
    if binds and len(binds) == 1 and isinstance(binds[0], gast.Dict):
        return _dict_items(binds[0], facts, name)
    if name in facts.params and not facts.bindings().get(name):
        kind = kinds.get(name)
        return ("arg", name) if isinstance(kind, tuple) and kind[0] in ("map", "seq", "obj") else None
    binds = facts.bindings().get(name)
    if not binds or len(binds) != 1 or not isinstance(binds[0], gast.Call) or binds[0].keywords or \
            len(binds[0].args) != 1 or not isinstance(binds[0].args[0], gast.Name):
        return None
    call, source = binds[0], binds[0].args[0].id
    if source not in facts.params or any(b is not call for b in facts.bindings().get(source) or ()) or \
            facts.activity.call_info(call).obj is not dict:
        return None                 # (``dict(state)`` of the argument as given)
    kind = kinds.get(source)
    keys = facts.key_writes()
    if not (isinstance(kind, tuple) and kind[:2] == ("map", dict)) or keys is None:
        return None
    plain = set()
    for key, child in kind[2]:
        found = [_kind_type(child)] + [python_type(v, facts) for v in keys.get(key, ())]
        if all(t == "plain" for t in found):
            plain.add(key)
    for key, written in keys.items():
        if key not in dict(kind[2]) and written and all(python_type(v, facts) == "plain" for v in written):
            plain.add(key)
    return ("items", frozenset(plain)) if plain else None


def _record_kept(values, facts):
    """``("record", cls, {field: t})`` for a namedtuple or dataclass the function builds and returns (``values``,
    one return): ``Metrics(float(L), lr)``, ``P(w, 0.5)``, ``dataclasses.replace(p, W=w)``, ``p._replace(W=w)``
    of an argument ``p``; t is the entry of ``_output_kept`` of the value stored in that field (a field left to its
    default: "plain", the default's own object; a field ``replace`` keeps: ``("field", p, name, None)``, the
    caller's object itself).  The run rebuilds the record dlfeval gives back with those fields as Python has them
    (sct.api _kept_output; was: ``m.loss``, ``m.lr`` and ``q.l2`` 1x1 dlarrays where Python gives floats, and
    ``q.tags`` a copy of the caller's list, red56c W1).  None where the class may do more than store its
    arguments (its own ``__new__``/``__init__``, a ``__post_init__``)."""
    if len(values) != 1:
        return None
    value = values[0]
    if isinstance(value, gast.Name) and value.id not in facts.params:
        binds = facts.bindings().get(value.id)          # (the normalizer's ``out_Metrics = Metrics(...)``)
        value = binds[0] if binds and len(binds) == 1 else None
    if not isinstance(value, gast.Call) or any(isinstance(a, gast.Starred) for a in value.args) or \
            any(k.arg is None for k in value.keywords):
        return None
    obj = facts.activity.call_info(value).obj
    name = getattr(obj, "__name__", "")
    if name in ("dataclass_replaced", "namedtuple_replaced") and \
            (getattr(obj, "__module__", None) or "").split(".")[0] in ("sct", "runtime"):
        return _replaced_kept(value, facts)
    fields = _stored_fields(obj)
    if fields is None or len(value.args) > len(fields[0]):
        return None
    given = dict(zip(fields[0], value.args))
    for k in value.keywords:
        if k.arg not in fields[1] or k.arg in given:
            return None             # (Python's TypeError: the run raises it)
        given[k.arg] = k.value
    found = {f: ("plain" if f not in given else _output_kept([given[f]], facts)) for f in fields[1]}
    found = {f: t for f, t in found.items() if t is not None}
    return ("record", obj, found) if found else None


def _replaced_kept(call, facts):
    """``_record_kept`` of ``rt.dataclass_replaced(p, changes)`` / ``rt.namedtuple_replaced(p, changes)`` (the
    normalizer's ``dataclasses.replace(p, W=w)``, ``p._replace(W=w)``) of an argument ``p`` never bound again."""
    if len(call.args) != 2 or call.keywords or not isinstance(call.args[0], gast.Name):
        return None
    holder, changes = call.args[0].id, call.args[1]
    made = None
    if holder not in facts.params:
        # a namedtuple the function built (``St(y, 1.5)._replace(scale=2.5)``): the fields it was built with
        # (a tuple: nothing changes them since; was a 1x1 dlarray, red57a W8)
        made = _record_kept([call.args[0]], facts)
        if made is None or not issubclass(made[1], tuple):
            return None
    elif facts.bindings().get(holder):
        return None
    kind = facts.activity.kinds.get(holder)
    cls = made[1] if made is not None else \
        kind[1] if isinstance(kind, tuple) and kind[0] == "obj" and len(kind) > 1 else None
    if isinstance(changes, gast.Name):
        binds = facts.bindings().get(changes.id)
        changes = binds[0] if binds and len(binds) == 1 else None
    if not isinstance(changes, gast.Dict) or not all(isinstance(k, gast.Constant) for k in changes.keys):
        return None
    fields = _stored_fields(cls)
    if fields is None:
        return None
    given = {k.value: v for k, v in zip(changes.keys, changes.values)}
    found = {f: (made[2].get(f) if made is not None else ("field", holder, f, None)) if f not in given else
             _output_kept([given[f]], facts) for f in fields[1]}
    found = {f: t for f, t in found.items() if t is not None}
    return ("record", cls, found) if found else None


def _stored_fields(cls):
    """(the positional fields, all fields) of a namedtuple class or a dataclass whose object is built by storing
    its arguments, each field given or its default (the ``__new__`` namedtuple wrote; the ``__init__`` @dataclass
    wrote, no ``__post_init__``, every field set by ``__init__``); None for another class."""
    import dataclasses
    if not isinstance(cls, type):
        return None
    if issubclass(cls, tuple) and hasattr(cls, "_fields"):
        for klass in cls.__mro__:
            if "_make" in klass.__dict__:
                new = getattr(getattr(klass.__dict__.get("__new__"), "__func__", None), "__code__", None)
                return (tuple(cls._fields), tuple(cls._fields)) if new is not None and \
                    new.co_filename.startswith("<") else None
            if "__new__" in klass.__dict__ or "__init__" in klass.__dict__:
                return None         # (a subclass building it its own way)
        return None
    from .callee_effects import _generated_dataclass_init
    if not dataclasses.is_dataclass(cls) or hasattr(cls, "__post_init__") or not _generated_dataclass_init(cls) or \
            "__new__" in {k for c in cls.__mro__[:-1] for k in c.__dict__}:
        return None
    every = dataclasses.fields(cls)
    if any(not f.init for f in every) or any(f._field_type is dataclasses._FIELD_INITVAR
                                              for f in cls.__dataclass_fields__.values()):
        return None                 # (an InitVar: a parameter of __init__ that is no field)
    return (tuple(f.name for f in every if not getattr(f, "kw_only", False)), tuple(f.name for f in every))


def _argument_field(values, facts):
    """``("field", name, attr, t)`` for ``return ..., s.hist`` (``values``) of an object argument ``s``: the run
    gives back the caller's ``s.hist`` where the code's value is that very object (sct.api _kept_output), else as
    ``t`` says (``_output_kept`` of the value otherwise; was: a new list of dlarrays for the caller's list of
    floats, a dlarray for its float field, red2_55 W2, W4)."""
    if len(values) != 1:
        return None
    value = values[0]
    if isinstance(value, gast.Name) and value.id not in facts.params:
        binds = facts.bindings().get(value.id)         # (the normalizer's ``s_hist = s.hist``)
        value = binds[0] if binds and len(binds) == 1 else None
    if not (isinstance(value, gast.Attribute) and isinstance(value.value, gast.Name) and
            value.value.id in facts.params and not facts.bindings().get(value.value.id)):
        return None
    kind = facts.activity.kinds.get(value.value.id)
    if not (isinstance(kind, tuple) and kind[0] == "obj"):
        return None
    rest = "plain" if python_type(values[0], facts) == "plain" else None
    return ("field", value.value.id, value.attr, rest)


def _dict_items(node, facts, name=None):
    """``output_types``' entry of a dict written out (``{"lr": 0.5, "n": 3}``): its items at constant keys whose
    every value (there, and each write of that key) is plain.  Bound to the local ``name`` that nothing but
    ``name[k] = v`` writes into (``_stored_by_key``), the keys written so too (``dict(n=2.0 * 3)``, the normalizer's
    ``d = {}``, ``d['n'] = 2.0 * 3``: was a 1x1 dlarray, red57a W8)."""
    keys = facts.key_writes()
    if keys is None or not all(isinstance(k, gast.Constant) for k in node.keys):
        return None
    plain = frozenset(k.value for k, v in zip(node.keys, node.values)
                      if all(python_type(e, facts) == "plain" for e in [v] + keys.get(k.value, [])))
    fdef = getattr(facts, "fdef", None)
    if name is not None and fdef is not None and _stored_by_key(fdef, name):
        plain |= frozenset(k for k, written in keys.items() if written and
                           all(python_type(e, facts) == "plain" for e in written))
    return ("items", plain) if plain else None


_AN_INT = gast.Constant(value=0, kind=None)


def _range_counters(facts) -> frozenset:
    """The names of ``facts.fdef`` bound only as the target of ``for name in range(...)`` (Python's range,
    the activity's ``range_counters``): ints (``acc = acc + float(s) * (i + 1)`` was not known, a Python float
    accumulated in a loop came back as a 1x1 dlarray, red58a W1)."""
    act = getattr(facts, "activity", None)
    fdef = getattr(facts, "fdef", None)
    if fdef is None or getattr(act, "fdef", None) is not fdef or not hasattr(act, "range_counters"):
        return frozenset()
    return frozenset(act.range_counters())


def name_bindings(fdef) -> Dict[str, list]:
    """name -> the values of its bindings ``name = value`` in ``fdef`` (None among them: bound another way, a
    parameter bound by the call)."""
    found: Dict[str, list] = {}
    plain = set()
    for n in walk_nodes(fdef):
        if isinstance(n, gast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], gast.Name):
            found.setdefault(n.targets[0].id, []).append(n.value)
            plain.add(id(n.targets[0]))
    for n in walk_nodes(fdef):
        if isinstance(n, gast.Name) and isinstance(n.ctx, (gast.Store, gast.Del)) and id(n) not in plain:
            found.setdefault(n.id, []).append(None)
    return found


def restored_keys(fdef) -> set:
    """The constant keys ``k`` whose every write in ``fdef`` sets back the item held there
    (``state["rnn"] = state_item``, sct/copy_aliases.py held_statements' ``sct_restore``, made where the run
    tells that state["rnn"] is state_item): the item there stays the same object, its own items' writes
    counted by their keys (was: every ``p["rnn"]`` not known, so ``x @ p["rnn"]["W"]`` of a dlarray was not
    known to be one where state["rnn"]["h"] was written: a value refused when stored)."""
    restored, written = set(), set()
    for n in walk_nodes(fdef):
        if isinstance(n, gast.Assign):
            for t in n.targets:
                if isinstance(t, gast.Subscript) and isinstance(t.slice, gast.Constant):
                    (restored if getattr(n, "sct_restore", False) else written).add(t.slice.value)
        elif isinstance(n, gast.Call) and isinstance(n.func, gast.Attribute) and \
                n.func.attr in ("setitem", "setitem_owned", "setitem_through") and len(n.args) >= 2:
            key = n.args[1]
            if isinstance(key, gast.Constant):
                written.add(key.value)
    return restored - written


_SCT_CHECKS = frozenset(("item_is_held", "item_changed_in_place", "walks_itself"))


def item_types(fdef, facts) -> Dict[int, str]:
    """id of a read ``t = X["k"]`` (a statement of ``fdef``'s top level, X a name bound once by such reads down from
    a parameter: a path ``("state", "bn", "k")``) -> the type of what the last write of that path before it (also
    at the top level, ``Y["k"] = v`` with Y on the same path) stored (``st["bn"]["m"] = h.mean(axis=0)`` then
    ``st["bn"]["v"] = st["bn"]["m"] * 2.0``: a dlarray, where the argument's item was an ndarray at entry; was
    not known, refused when stored, red53u FR5).  Only where every write of that key in the function is such a
    write (or sets a dict back: ``sct_restore``) and no dict on a path is handed to a call or deleted from: the
    dicts written are reached once from the arguments (sct.api), so a path names one dict."""
    params = {a.id for a in fdef.args.posonlyargs + fdef.args.args + fdef.args.kwonlyargs}
    bindings = facts.bindings()
    paths = {p: (p,) for p in params if not bindings.get(p)}
    for n in fdef.body:
        # (a name every binding of which reads the same item: copy_aliases' ``st_item = st['bn']`` again too)
        if isinstance(n, gast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], gast.Name) and \
                isinstance(n.value, gast.Subscript) and isinstance(n.value.value, gast.Name) and \
                n.value.value.id in paths and isinstance(n.value.slice, gast.Constant) and \
                all(isinstance(b, gast.Subscript) and isinstance(b.value, gast.Name) and b.value.id == n.value.value.id
                    and isinstance(b.slice, gast.Constant) and b.slice.value == n.value.slice.value
                    for b in bindings.get(n.targets[0].id, ())):
            paths[n.targets[0].id] = paths[n.value.value.id] + (n.value.slice.value,)
    # (the dicts written on the top level, and those holding them: a call given one may write into it)
    written = {paths[t.value.id] for n in fdef.body if isinstance(n, gast.Assign) for t in n.targets
               if isinstance(t, gast.Subscript) and isinstance(t.value, gast.Name) and t.value.id in paths}
    holders = {name for name, at in paths.items() if any(w[:len(at)] == at for w in written)}
    top = {id(n) for n in fdef.body}
    unsure = set()                  # (keys written some other way: their reads left to _written_item_type)
    for n in walk_nodes(fdef):
        if isinstance(n, gast.Call) and isinstance(n.func, gast.Attribute) and n.func.attr in _SCT_CHECKS and \
                isinstance(n.func.value, gast.Name) and n.func.value.id not in bindings and \
                n.func.value.id not in params:
            continue                # (sct's own checks of the dicts: they read them)
        if isinstance(n, gast.Call):
            given = list(n.args) + [k.value for k in n.keywords] + \
                ([n.func.value] if isinstance(n.func, gast.Attribute) else [])
            if any(isinstance(a, gast.Name) and a.id in holders for a in given):
                return {}           # (a dict handed on: a call may write into it)
        elif isinstance(n, gast.Delete) and any(isinstance(t, gast.Subscript) for t in n.targets):
            return {}
        elif isinstance(n, gast.Assign) and not getattr(n, "sct_restore", False):
            for t in n.targets:
                if not isinstance(t, gast.Subscript):
                    continue
                if not isinstance(t.slice, gast.Constant):
                    return {}
                if id(n) not in top or not (isinstance(t.value, gast.Name) and t.value.id in paths):
                    unsure.add(t.slice.value)
    found: Dict[int, str] = {}
    last: Dict[tuple, str] = {}
    facts.item_types = lambda: found        # (a write's value read in order: what came before is known)
    for n in fdef.body:
        if not isinstance(n, gast.Assign) or len(n.targets) != 1:
            continue
        t, v = n.targets[0], n.value
        if isinstance(t, gast.Name) and isinstance(v, gast.Subscript) and isinstance(v.value, gast.Name) and \
                v.value.id in paths and isinstance(v.slice, gast.Constant) and v.slice.value not in unsure:
            at = paths[v.value.id] + (v.slice.value,)
            if at in last:
                found[id(v)] = last[at]
        elif isinstance(t, gast.Subscript) and isinstance(t.value, gast.Name) and t.value.id in paths and \
                isinstance(t.slice, gast.Constant) and not getattr(n, "sct_restore", False):
            last[paths[t.value.id] + (t.slice.value,)] = python_type(v, facts)
    return found


_DEFERRED = (gast.Lambda, gast.FunctionDef, gast.AsyncFunctionDef, gast.ClassDef, gast.ListComp, gast.SetComp,
             gast.DictComp, gast.GeneratorExp)


def reaching_bindings(fdef, facts) -> Dict[int, object]:
    """id of a name read in a simple statement of ``fdef``'s top level -> the value of the binding it sees, where
    every binding of that name is ``name = value`` on the top level (none in a branch, a loop or a nested function,
    no ``global``/``nonlocal`` of it): the last one before it.  ``out = net(x); out = out[0]`` then
    ``st["m"] = np.mean(out)``: the read sees ``out[0]``, a dlarray (was: not known from the two bindings, a tuple
    and an item, refused when stored, red56d F1)."""
    bindings = facts.bindings()
    top: Dict[str, int] = {}
    for n in fdef.body:
        if isinstance(n, gast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], gast.Name):
            top[n.targets[0].id] = top.get(n.targets[0].id, 0) + 1
    declared = set()                # (names bound another way: declared, a def, an import, a match capture)
    for n in gast.walk(fdef):
        if isinstance(n, (gast.Global, gast.Nonlocal)):
            declared.update(n.names)
        elif isinstance(n, (gast.FunctionDef, gast.AsyncFunctionDef, gast.ClassDef)) and n is not fdef:
            declared.add(n.name)
        elif isinstance(n, (gast.Import, gast.ImportFrom)):
            declared.update((a.asname or a.name).split(".")[0] for a in n.names)
        elif isinstance(getattr(n, "name", None), str) and n is not fdef or isinstance(getattr(n, "rest", None), str):
            declared.update(v for v in (getattr(n, "name", None), getattr(n, "rest", None)) if isinstance(v, str))
    eligible = {name for name, count in top.items() if name not in declared and name not in facts.params and
                len(bindings.get(name) or ()) == count and None not in bindings[name]}
    found: Dict[int, object] = {}
    last: Dict[str, object] = {}
    order: list = []                # (the values bound, in order: _reaching_type)
    for st in fdef.body:
        if not isinstance(st, (gast.Assign, gast.Expr, gast.Return)):
            continue
        todo = [st.value] if st.value is not None else []
        todo += [t for t in getattr(st, "targets", ()) if not isinstance(t, gast.Name)]
        while todo:
            n = todo.pop()
            if isinstance(n, _DEFERRED):
                continue                # (run later, or a scope of its own)
            if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load) and n.id in eligible and n.id in last:
                found[id(n)] = last[n.id]
            todo.extend(gast.iter_child_nodes(n))
        if isinstance(st, gast.Assign) and len(st.targets) == 1 and isinstance(st.targets[0], gast.Name) and \
                st.targets[0].id in eligible:
            last[st.targets[0].id] = st.value
            order.append(st.value)
    facts.reach_order, facts.reach_done, facts.reach_types = order, 0, {}
    facts.reach_order_at, facts.reach_busy = {id(v): i for i, v in enumerate(order)}, set()
    return found


def key_writes(fdef) -> Dict[object, list]:
    """key -> the values written into an item ``k`` of any dict or list in ``fdef`` (``d[k] = v``, k a
    constant); a write with a key known only when it runs under ``None`` (the caller then knows none)."""
    found: Dict[object, list] = {}
    for n in walk_nodes(fdef):
        if isinstance(n, gast.Assign):
            for t in n.targets:
                if isinstance(t, gast.Subscript):
                    key = t.slice.value if isinstance(t.slice, gast.Constant) else None
                    found.setdefault(key, []).append(n.value)
    return found
