"""Data formats at compile time, the walk: the format of every name of a normalized function.

The values followed (a *tree*): None (unformatted), a format string (``"SSCB"``), a tuple or dict
of trees (the items of a tuple, list or dict), or ``UNKNOWN`` (the format differs by path or
cannot be followed).  ``FormatInference`` walks the statements and expressions (branches merged,
loops to a fixed point) and aligns elementwise operands by their labels; what a call gives is
``call``'s answer: unformatted here, the deep-learning functions in ``sct.formats.FormatPass``.
"""
from __future__ import annotations

from typing import Any, Dict, List

import gast

from .analysis import Resolver
from .errors import CompileError
from .ir import assign, call, const, load, walk_nodes
from .runtime import formats as rf
from .runtime.labels import LOST as RUNTIME_LOST, LOST_KIND, LostLabels, matmul_message
from .runtime import support


class _Unknown:
    def __repr__(self):
        return "UNKNOWN"


UNKNOWN = _Unknown()        # a value whose format differs by path or cannot be followed


class _Lost:
    """Unformatted, made from a formatted value by an op that does not keep labels (a reshape, transpose,
    np.stack, ...: MATLAB's reshape gives an unformatted dlarray too).  A deep-learning function that reads
    a layout refuses it without DataFormat= (MATLAB's raises: it takes no unformatted data without it),
    where it would otherwise read it in sct's default layout, not the one its lost labels named."""
    def __repr__(self):
        return "LOST"

    def __bool__(self):
        return False


LOST = _Lost()


class _OneOf(_Unknown):
    """UNKNOWN that knows the formats it may have (``options``: format strings, None, LOST): a value
    whose format differs by path (``xs[i]`` of a list of "BC" and "CB" items, a name a branch or a loop
    assigns with other labels).  Made by ``one_of`` (one object per set of options: compared by ``is``)."""
    def __init__(self, options):
        self.options = options

    def __repr__(self):
        return f"UNKNOWN{sorted(map(repr, self.options))}"


_ONE_OF: Dict[Any, "_OneOf"] = {}


def one_of(options) -> "_OneOf":
    options = frozenset(options)
    found = _ONE_OF.get(options)
    if found is None:
        found = _ONE_OF.setdefault(options, _OneOf(options))
    return found


def _options(t):
    """The formats an atom (None, LOST, a format, a _OneOf) may have; None for what is not one."""
    if t is None or isinstance(t, (str, _Lost)):
        return {t}
    if isinstance(t, _OneOf):
        return set(t.options)
    return None


def lost_from(trees) -> bool:
    """Whether any of ``trees`` is formatted or lost (in a container too)."""
    for t in trees:
        if isinstance(t, (str, _Lost)) or (isinstance(t, tuple) and lost_from(t)) or \
                (isinstance(t, dict) and lost_from(t.values())):
            return True
    return False


def tree_of_kind(kind):
    """The formats inside an argument of this kind (None when there are none)."""
    if not isinstance(kind, tuple) or not kind:
        return None
    tag = kind[0]
    if tag in ("dl", "nd"):
        return (LOST if kind[3] == LOST_KIND else kind[3]) if len(kind) > 3 else None
    if tag == "seq":
        items = tuple(tree_of_kind(k) for k in kind[2])
        return items if any(t is not None for t in items) else None
    if tag in ("map", "obj"):
        try:
            items = {k: tree_of_kind(v) for k, v in kind[2]}
        except (TypeError, ValueError):
            return None
        return items if any(t is not None for t in items.values()) else None
    return None


def has_format(tree) -> bool:
    if tree is None or isinstance(tree, (_Lost, LostLabels)):
        return False
    if isinstance(tree, tuple):
        return any(has_format(t) for t in tree)
    if isinstance(tree, dict):
        return any(has_format(t) for t in tree.values())
    return True          # a str or UNKNOWN


def merge(a, b):
    if a is b or (type(a) is type(b) and not isinstance(a, _Unknown) and a == b):
        return a
    if (a is None and b in ((), {})) or (b is None and a in ((), {})):
        return None               # an empty list or dict, or one with no formatted item
    if (a is None or isinstance(a, _Lost)) and (b is None or isinstance(b, _Lost)):
        return LOST
    if isinstance(a, tuple) and isinstance(b, tuple) and len(a) == len(b):
        return tuple(merge(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys():
        return {k: merge(a[k], b[k]) for k in a}
    left, right = _options(a), _options(b)
    if left is not None and right is not None:
        return one_of(left | right)         # (combine refuses an operation that would need to align it)
    return UNKNOWN


def output_tree(tree):
    """What dlfeval puts on the outputs: LOST and UNKNOWN become the runtime's LOST mark (an unformatted
    dlarray a deep-learning function refuses, as the same value made outside dlfeval is: was unformatted,
    so ``softmax(Y)`` of a returned ``np.cumsum(X, 0)`` or ``X.T`` read it in sct's default layout)."""
    if isinstance(tree, (_Unknown, _Lost)):
        return RUNTIME_LOST
    if isinstance(tree, tuple):
        items = tuple(output_tree(t) for t in tree)
        return items if any(t is not None for t in items) else None
    if isinstance(tree, dict):
        items = {k: output_tree(t) for k, t in tree.items()}
        return items if any(t is not None for t in items.values()) else None
    return tree


def _runs_at_least_once(it) -> bool:
    """``for ... in it`` runs its body: ``range`` of literal bounds that is not empty, a literal
    tuple or list with an item."""
    if isinstance(it, (gast.Tuple, gast.List)):
        return bool(it.elts) and not any(isinstance(e, gast.Starred) for e in it.elts)
    if isinstance(it, gast.Call) and isinstance(it.func, gast.Name) and it.func.id == "range" and \
            not it.keywords and 1 <= len(it.args) <= 3 and \
            all(isinstance(a, gast.Constant) and type(a.value) is int for a in it.args):
        return len(range(*[a.value for a in it.args])) > 0
    return False


class FormatInference:
    """The formats of the names of ``fdef`` (rewriting it where ``rewrite``): statements, expressions
    and elementwise operands; ``call`` says what a call gives (override it)."""
    def __init__(self, fdef, resolver: Resolver, param_kinds: Dict[str, Any], filename: str, namer,
                 rt_name: str, mode: str):
        self.fdef = fdef
        self.resolver = resolver
        self.filename = filename
        self.namer = namer
        self.rt = rt_name
        self.mode = mode
        self.params = {p: tree_of_kind(k) for p, k in param_kinds.items()}
        self.kinds = param_kinds
        self.stored: Dict[str, int] = {}
        for n in walk_nodes(fdef):
            if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store):
                self.stored[n.id] = self.stored.get(n.id, 0) + 1
        self.local_kinds: Dict[str, Any] = {}     # names assigned once from a part of an argument
        self.constants: Dict[str, Any] = {}       # names assigned once a literal
        self.out = None
        self.returned = False
        # the targets of ``for t in range(...)`` assigned nowhere else: integers (x[:, :, t] drops a label)
        self.int_names: set = set()         # names that hold a Python int wherever they are read
        self.shape_locals: set = set()      # names assigned once an array's shape
        self.find_ints(fdef, param_kinds)

    def fail(self, stmt, message: str, construct: str = "data format"):
        raise CompileError(message, self.filename, getattr(stmt, "lineno", None) or self.fdef.lineno, construct)

    # --- statements ---------------------------------------------------------------------------
    def block(self, stmts: List, env: Dict[str, Any], rewrite: bool) -> List:
        out: List = []
        for s in stmts:
            out.extend(self.statement(s, env, rewrite))
        return out

    def statement(self, s, env, rewrite):
        if isinstance(s, gast.Assign):
            return self.assignment(s, env, rewrite)
        if isinstance(s, gast.If):
            left, right = dict(env), dict(env)
            body = self.block(s.body, left, rewrite)
            orelse = self.block(s.orelse, right, rewrite)
            for k in set(left) | set(right):
                env[k] = merge(left.get(k), right.get(k))
            if rewrite:
                s.body, s.orelse = body, orelse
            return [s]
        if isinstance(s, (gast.For, gast.While)):
            if isinstance(s, gast.For):
                self.bind_target(s.target, self.element(s.iter, env, s), env)
            before = dict(env)
            for _ in range(20):
                inner = dict(env)
                self.block(s.body, inner, False)
                new = {k: merge(env.get(k), inner.get(k)) for k in set(env) | set(inner)}
                if all(new[k] is env.get(k) or (not isinstance(new[k], _Unknown) and new[k] == env.get(k))
                       for k in new):
                    break
                env.update(new)
            else:
                for k in list(env):
                    if has_format(env[k]):
                        env[k] = UNKNOWN
            body = self.block(s.body, dict(env), rewrite)
            if isinstance(s, gast.For) and _runs_at_least_once(s.iter):
                # the body runs: after the loop, what an iteration leaves (acc = 0 then acc = acc + f(x)
                # in the loop holds f(x)'s labels), not the value before it
                exits = None
                entry = before
                for _ in range(20):
                    inner = dict(entry)
                    self.block(s.body, inner, False)
                    new = inner if exits is None else {k: merge(exits.get(k), inner.get(k))
                                                       for k in set(exits) | set(inner)}
                    if exits is not None and all(
                            new[k] is exits.get(k) or (not isinstance(new[k], _Unknown) and new[k] == exits.get(k))
                            for k in new):
                        break
                    exits = new
                    entry = dict(new)          # the next iteration binds the target again
                    entry.update({n.id: before.get(n.id) for n in gast.walk(s.target) if isinstance(n, gast.Name)})
                else:
                    exits = dict(env)      # no fixed point: what the loop's entry allows
                env.clear()
                env.update(exits)
            orelse = self.block(s.orelse, env, rewrite)
            if rewrite:
                s.body, s.orelse = body, orelse
            return [s]
        if isinstance(s, gast.With):
            # the body runs once, in the context (was: not walked at all, so a deep-learning call in
            # `with np.errstate(...):` read formatted data in sct's default layout: another value, silently).
            # What `as v` binds comes from the context manager: not followed, so UNKNOWN where the
            # context expression reads formatted data
            for item in s.items:
                if item.optional_vars is not None:
                    reads = [env.get(n.id, self.params.get(n.id)) for n in walk_nodes(item.context_expr)
                             if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load)]
                    self.bind_target(item.optional_vars,
                                     UNKNOWN if has_format(tuple(reads)) or lost_from(reads) else None, env)
            body = self.block(s.body, env, rewrite)
            if rewrite:
                s.body = body
            return [s]
        if isinstance(s, gast.Try):
            # (try statements are normalised into branches; one left here is walked as branches are: the
            # body, then each handler from what the body may have left, else, finally)
            before = dict(env)
            body = self.block(s.body, env, rewrite)
            orelse = self.block(s.orelse, env, rewrite)
            exits = [dict(env)]
            for h in s.handlers:
                inner = {k: merge(before.get(k), env.get(k)) for k in set(before) | set(env)}
                if isinstance(h.name, gast.Name):
                    inner[h.name.id] = None
                handled = self.block(h.body, inner, rewrite)
                if rewrite:
                    h.body = handled
                exits.append(inner)
            for k in set().union(*exits):
                tree = exits[0].get(k)
                for e in exits[1:]:
                    tree = merge(tree, e.get(k))
                env[k] = tree
            final = self.block(s.finalbody, env, rewrite)
            if rewrite:
                s.body, s.orelse, s.finalbody = body, orelse, final
            return [s]
        if isinstance(s, gast.Return):
            tree = self.expr(s.value, env, s) if s.value is not None else None
            self.out = tree if not self.returned else merge(self.out, tree)
            self.returned = True
            return [s]
        if isinstance(s, gast.Expr) and isinstance(s.value, gast.Call):
            _, new = self.call(s, s.value, env, rewrite)
            return new if new is not None else [s]
        return [s]

    def assignment(self, s, env, rewrite):
        target = s.targets[0]
        if isinstance(target, gast.Name) and self.stored.get(target.id) == 1 and (
                isinstance(s.value, gast.Constant) or (isinstance(s.value, (gast.List, gast.Tuple)) and
                                                        all(isinstance(e, gast.Constant) for e in s.value.elts))):
            self.constants[target.id] = s.value     # a literal hoisted by normalize (Outputs=["fc1", ...])
        if isinstance(target, gast.Name) and self.stored.get(target.id) == 1 and isinstance(s.value, gast.Call) \
                and len(s.value.args) == 1 and not s.value.keywords and isinstance(s.value.args[0], gast.Name) \
                and isinstance(self.constants.get(s.value.args[0].id), (gast.List, gast.Tuple)) \
                and self.resolver.resolve(s.value.func) in (tuple, list):
            # tuple(finddim(X, "S")): a constant sequence of the constant one
            self.constants[target.id] = gast.Tuple(elts=list(self.constants[s.value.args[0].id].elts), ctx=gast.Load())
        if isinstance(target, gast.Name) and self.stored.get(target.id) == 1 and isinstance(s.value, gast.Subscript) \
                and isinstance(s.value.value, gast.Name) and isinstance(s.value.slice, gast.Constant) \
                and type(s.value.slice.value) is int \
                and isinstance(self.constants.get(s.value.value.id), (gast.List, gast.Tuple)):
            # finddim(X, "C")[0]: an item of the constant sequence (np.sum(X, axis=finddim(X, "C")[0]) keeps
            # the labels of the dimensions left, as outside dlfeval; was taken as an axis not known when the
            # function is compiled, and the sum came back unformatted)
            elts = self.constants[s.value.value.id].elts
            k = s.value.slice.value
            if -len(elts) <= k < len(elts) and isinstance(elts[k], gast.Constant):
                self.constants[target.id] = elts[k]
        if isinstance(target, gast.Name) and isinstance(s.value, (gast.Name, gast.Attribute, gast.Subscript)) \
                and self.stored.get(target.id) == 1:
            self.local_kinds[target.id] = self.kind_at(s.value)
        if isinstance(s.value, gast.Call):
            tree, new = self.call(s, s.value, env, rewrite)
        elif isinstance(s.value, gast.BinOp) and self.sequence_operation(s.value, env, s) is not False:
            tree, new = self.sequence_operation(s.value, env, s), None
        elif isinstance(s.value, gast.BinOp) and not isinstance(s.value.op, gast.MatMult):
            tree, new = self.aligned(s, s.value, ["left", "right"], env, rewrite)
        elif isinstance(s.value, gast.Compare) and len(s.value.comparators) == 1:
            tree, new = self.aligned(s, s.value, ["left", ("comparators", 0)], env, rewrite)
        else:
            tree, new = self.expr(s.value, env, s), None
        if isinstance(target, gast.Name):
            env[target.id] = tree
        elif isinstance(target, gast.Attribute) and isinstance(target.value, gast.Name):
            # obj.T = v: the object's attribute holds v's labels (read back as obj.T), as an argument's do
            base = self.expr(target.value, env, s)
            if isinstance(base, dict) or (base is None and has_format(tree)):
                env[target.value.id] = {**(base or {}), target.attr: tree}
            elif has_format(tree):
                env[target.value.id] = UNKNOWN
        elif isinstance(target, gast.Tuple):
            for i, e in enumerate(target.elts):
                if isinstance(e, gast.Name):
                    env[e.id] = tree[i] if isinstance(tree, tuple) and i < len(tree) else \
                        (UNKNOWN if isinstance(tree, _Unknown) else None)
        return new if new is not None else [s]

    def element(self, it, env, stmt):
        """The format tree of an item of the iterable ``it`` (a for loop's target): the one format of a
        tuple's or list's items (UNKNOWN where they differ), unformatted for an array's rows (integer
        indexing) and a dict's keys; ``enumerate``/``zip`` item by item."""
        if isinstance(it, gast.Call):
            target = self.resolver.resolve(it.func)
            trees = [self.expr(a, env, stmt) for a in it.args]
            if target is enumerate and len(it.args) == 1:
                return (None, self.element(it.args[0], env, stmt))
            if target is zip:
                items = tuple(self.element(a, env, stmt) for a in it.args)
                return items if any(has_format(t) for t in items) else None
            return UNKNOWN if any(has_format(t) for t in trees) or (
                isinstance(it.func, gast.Attribute) and has_format(self.expr(it.func.value, env, stmt))) else None
        return self.item_of(self.expr(it, env, stmt))

    @staticmethod
    def literal_int(node):
        """The int of a literal bound (None for none), False when not a literal."""
        if node is None:
            return None
        if isinstance(node, gast.UnaryOp) and isinstance(node.op, gast.USub):
            v = FormatInference.literal_int(node.operand)
            return -v if v not in (None, False) else False
        if isinstance(node, gast.Constant) and type(node.value) is int:
            return node.value
        return False

    @staticmethod
    def item_of(tree):
        """The format tree of one item, picked when the function runs, of a value with this tree."""
        if isinstance(tree, tuple):
            if not tree:
                return None
            out = tree[0]
            for t in tree[1:]:
                out = merge(out, t)
            return out
        if isinstance(tree, _Unknown):
            return UNKNOWN
        return None                  # an array's rows (integer indexing: unformatted), a dict's keys

    def bind_target(self, target, tree, env):
        if isinstance(target, gast.Name):
            env[target.id] = tree
        elif isinstance(target, (gast.Tuple, gast.List)):
            for i, e in enumerate(target.elts):
                self.bind_target(e, tree[i] if isinstance(tree, tuple) and i < len(tree) else
                                 (UNKNOWN if isinstance(tree, _Unknown) or has_format(tree) else None), env)
        else:
            for n in walk_nodes(target):
                if isinstance(n, gast.Name):
                    env[n.id] = UNKNOWN if has_format(tree) else None

    # --- expressions ----------------------------------------------------------------------------
    def expr(self, v, env, stmt):
        if isinstance(v, gast.Name):
            return env.get(v.id, self.params.get(v.id))
        if isinstance(v, (gast.Tuple, gast.List)):
            if not v.elts:
                return ()             # an empty list: its items are those added to it (xs + [v], xs[k] = v)
            items = tuple(self.expr(e, env, stmt) for e in v.elts)
            return items if any(has_format(t) for t in items) else None
        if isinstance(v, gast.Dict):
            if not v.keys:
                return {}             # an empty dict: (d["k"] = v gives that item's tree)
            items = {k.value: self.expr(e, env, stmt) for k, e in zip(v.keys, v.values)
                     if isinstance(k, gast.Constant)}
            return items if any(has_format(t) for t in items.values()) else None
        if isinstance(v, gast.Subscript):
            base = self.expr(v.value, env, stmt)
            if isinstance(base, _Unknown):
                return UNKNOWN
            key = v.slice
            if isinstance(base, tuple) and isinstance(key, gast.Constant) and isinstance(key.value, int) \
                    and -len(base) <= key.value < len(base):
                return base[key.value]
            if isinstance(base, dict) and isinstance(key, gast.Constant):
                return base.get(key.value)
            if isinstance(base, tuple) and isinstance(key, gast.Slice):      # xs[a:b:c] of a tuple or list
                bounds = [self.literal_int(b) for b in (key.lower, key.upper, key.step)]
                if all(b is not False for b in bounds):
                    items = base[slice(*bounds)]
                    return items if any(has_format(t) for t in items) else None
                return UNKNOWN if has_format(base) else None
            if isinstance(base, tuple) and not isinstance(key, gast.Constant):
                return self.item_of(base)          # xs[i]: an item picked when the function runs
            if isinstance(base, dict) and not isinstance(key, gast.Constant):
                return self.item_of(tuple(base.values()))
            if isinstance(base, str):
                fmt = self.indexed(base, key)
                items = key.elts if isinstance(key, gast.Tuple) else [key]
                return fmt if fmt or all(isinstance(i, gast.Slice) or self.is_int(i) for i in items) else LOST
            return LOST if isinstance(base, _Lost) else None
        if isinstance(v, gast.Attribute):
            base = self.expr(v.value, env, stmt)
            if isinstance(base, dict):
                return base.get(v.attr)
            if isinstance(base, (str, _Unknown, _Lost)) and v.attr in ("real", "imag"):
                return base                 # MATLAB's real(X), imag(X) keep the format
            if isinstance(base, (str, _Lost)) and v.attr in ("T", "mT"):
                return LOST
            return None
        if isinstance(v, gast.BinOp):
            if isinstance(v.op, gast.MatMult):
                operands = [self.expr(v.left, env, stmt), self.expr(v.right, env, stmt)]
                self.refuse_matmul(stmt, "@", operands)
                return LOST if lost_from(operands) else None
            return self.combine([self.expr(v.left, env, stmt), self.expr(v.right, env, stmt)], stmt)
        if isinstance(v, gast.UnaryOp):
            return None if isinstance(v.op, gast.Not) else self.expr(v.operand, env, stmt)
        if isinstance(v, gast.Compare):
            return self.combine([self.expr(v.left, env, stmt)] + [self.expr(c, env, stmt) for c in v.comparators],
                                stmt)
        if isinstance(v, gast.IfExp):
            return merge(self.expr(v.body, env, stmt), self.expr(v.orelse, env, stmt))
        return None

    def find_ints(self, fdef, param_kinds) -> None:
        """``int_names``: the local names every assignment of which is an int (``for t in range(...)``,
        ``i = 0`` then ``i = i + 1``, ``n = x.shape[2] - 1``, ``k = len(xs)``), found as the largest such set;
        ``shape_locals``: names assigned once an array's shape."""
        stores: Dict[str, List] = {}
        for n in walk_nodes(fdef):
            if isinstance(n, gast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], gast.Name):
                stores.setdefault(n.targets[0].id, []).append(n.value)
            elif isinstance(n, gast.AugAssign) and isinstance(n.target, gast.Name):
                stores.setdefault(n.target.id, []).append(gast.BinOp(left=n.target, op=n.op, right=n.value))
            elif isinstance(n, gast.For) and isinstance(n.target, gast.Name) and isinstance(n.iter, gast.Call) and \
                    self.resolver.resolve(n.iter.func) is range:
                stores.setdefault(n.target.id, []).append(const(0))
        for name, values in stores.items():
            if len(values) == 1 and self.stored.get(name) == 1 and isinstance(values[0], gast.Attribute) and \
                    values[0].attr == "shape":
                self.shape_locals.add(name)
        # every store of the name is one of those above (no tuple unpacking, with-as, other for targets)
        self.int_names = {name for name, values in stores.items()
                          if name not in param_kinds and len(values) == self.stored.get(name)}
        while True:
            keep = {name for name in self.int_names if all(self.int_expression(v) == "int" for v in stores[name])}
            if keep == self.int_names:
                return
            self.int_names = keep

    def is_int(self, v) -> bool:
        """Is ``v`` a Python int when the function runs: a literal, the target of ``for t in range(...)``, a
        parameter passed an int, or a name assigned once an int expression (``t - 1``, ``len(xs)``,
        ``x.shape[2]``: ``int_expression``)?"""
        if type(self.literal_int(v)) is int:
            return True
        if not isinstance(v, gast.Name):
            return False
        if v.id in self.int_names:
            return True
        kind = self.kinds.get(v.id) if v.id not in self.stored else None
        return isinstance(kind, tuple) and len(kind) > 2 and (
            (kind[0] == "num" and kind[2] is int) or           # an int; a numpy integer or 0-d integer array
            (kind[0] == "nd" and kind[2] == 0 and isinstance(kind[1], str) and kind[1][1:2] in ("i", "u")))

    def not_int(self, v) -> bool:
        """Is ``v`` surely not an int (so ``x[..., v, ...]`` is not basic integer indexing)?"""
        if isinstance(v, gast.Constant):
            return type(v.value) is not int
        if isinstance(v, (gast.List, gast.Tuple, gast.Compare, gast.BoolOp)):
            return True
        if isinstance(v, gast.Name) and v.id not in self.stored and v.id in self.kinds:
            return not self.is_int(v)          # a parameter of another kind: an array, a float, ...
        return False

    def int_expression(self, v) -> str:
        """"int" when ``v`` (an assigned value) is an int, "shape" when it is an array's shape, else ""."""
        if isinstance(v, gast.BinOp) and isinstance(v.op, (gast.Add, gast.Sub, gast.Mult, gast.FloorDiv, gast.Mod)):
            return "int" if self.is_int(v.left) and self.is_int(v.right) else ""
        if isinstance(v, gast.UnaryOp) and isinstance(v.op, (gast.USub, gast.UAdd)):
            return "int" if self.is_int(v.operand) else ""
        if isinstance(v, gast.Call) and self.resolver.resolve(v.func) in (len, int):
            return "int"
        if isinstance(v, gast.Call) and self.resolver.resolve(v.func) is support.inplace_result and v.args:
            return self.int_expression(v.args[0])      # i += 1: the value of i + 1
        if isinstance(v, gast.Attribute) and v.attr == "shape":
            return "shape"
        if isinstance(v, gast.Subscript) and self.is_int(v.slice) and (
                (isinstance(v.value, gast.Name) and v.value.id in self.shape_locals) or
                (isinstance(v.value, gast.Attribute) and v.value.attr == "shape")):
            return "int"
        return "int" if self.is_int(v) else ""

    def indexed(self, fmt: str, key):
        """The labels of ``x[key]`` for ``x`` labelled ``fmt`` (``sct.runtime.dlarray.indexed_format``):
        slices keep their dimension's label, ints (``is_int``) drop their dimension; an index that is surely
        not an int (a literal list, None, ...) gives an unformatted value, one that may or may not be an int
        (a name sct cannot type) a format not known here (refused where it is read)."""
        items = key.elts if isinstance(key, gast.Tuple) else [key]
        if len(items) > len(fmt):
            return None
        out = []
        for c, i in zip(fmt, items):
            if isinstance(i, gast.Slice):
                out.append(c)
            elif not self.is_int(i):
                return None if self.not_int(i) else UNKNOWN
        return "".join(out) + fmt[len(items):] or None

    def sequence_operation(self, v, env, stmt):
        """``xs + [v]`` (sct.normalize's ``xs.append(v)``), ``xs + ys``, ``[v] * n`` of lists or tuples: the tree
        of the result (the items' trees concatenated, repeated by a literal count; in a loop the lengths differ
        and merge to UNKNOWN); False when neither operand is a list or tuple followed here."""
        left, right = self.expr(v.left, env, stmt), self.expr(v.right, env, stmt)
        if not isinstance(left, tuple) and not isinstance(right, tuple) and not (
                isinstance(v.left, (gast.List, gast.Tuple)) or isinstance(v.right, (gast.List, gast.Tuple))):
            return False
        if isinstance(v.op, gast.Add) and isinstance(left, (tuple, type(None))) and \
                isinstance(right, (tuple, type(None))) and (left is not None or isinstance(v.left, (
                    gast.List, gast.Tuple))) and (right is not None or isinstance(v.right, (gast.List, gast.Tuple))):
            items = (left or ()) + (right or ())
            return items if any(has_format(t) for t in items) else None
        if isinstance(v.op, gast.Mult):
            seq, count = (left, v.right) if isinstance(left, tuple) or isinstance(v.left, (gast.List, gast.Tuple)) \
                else (right, v.left)
            n = self.literal_int(count)
            if isinstance(seq, tuple) and isinstance(n, int) and n is not False:
                items = seq * n
                return items if any(has_format(t) for t in items) else None
            return None if seq is None else UNKNOWN
        return UNKNOWN if lost_from([left, right]) else None

    def refuse_matmul(self, stmt, what: str, trees) -> None:
        """``a @ b`` (``np.matmul``, ``np.dot``) of a formatted dlarray: refused, as MATLAB's mtimes takes a
        formatted dlarray only with an unformatted scalar.  Its result would be unformatted, and a
        deep-learning function would read it in sct's default layout (batch first), not in the labels'
        (``softmax(W @ X)`` of a 'CB' X: the softmax over the observations)."""
        fmts = [t for t in trees if isinstance(t, str) and t]
        if fmts:
            self.fail(stmt, matmul_message(what, fmts[0]))

    def combine(self, trees, stmt, perms=None):
        """The one format of elementwise operands: the widest one, which an operand labelled as its trailing
        part broadcasts into label by label.  With ``perms`` (a list, filled per operand), an operand with
        its labels in another order is arranged into that order (MATLAB permutes every formatted dlarray
        into one order); otherwise, and for different labels, refused."""
        for t in trees:
            if isinstance(t, _Unknown):
                return self.combine_unknown(trees, stmt)
        fmts = [t for t in trees if isinstance(t, str)]
        if not fmts:
            return LOST if any(isinstance(t, _Lost) for t in trees) else None
        first = max(fmts, key=len)      # a format that is the trailing part of it broadcasts label by label
        for i, t in enumerate(trees):
            if not isinstance(t, str) or t == first or (len(t) < len(first) and first.endswith(t)):
                continue
            if perms is not None and rf.same_labels(t, first):
                perms.append((i, rf.align_perm(t, first)))
                continue
            a, b = sorted((first, t))
            if rf.same_labels(t, first):
                self.fail(stmt, f"dlarray formats {first!r} and {t!r} have the same labels in another order; sct "
                          "aligns them in an assignment of one operation (y = a - b) or a deep-learning function, "
                          "not here: assign the result to a name first")
            self.fail(stmt, f"dlarray formats {a!r} and {b!r} have different labels: sct aligns formatted "
                      "operands by their labels only when both have the same labels; arrange the data "
                      "(np.transpose) and relabel, or call stripdims")
        return first

    def combine_unknown(self, trees, stmt):
        """``combine`` where an operand's format is not known when the function is compiled (UNKNOWN): where
        the formats it may have (``_OneOf``) and the other operands' could need aligning by label (another
        order or other labels: the values would meet unaligned, another number), refused; else UNKNOWN."""
        possible = set()
        anything = sum(1 for t in trees if isinstance(t, _Unknown) and not isinstance(t, _OneOf))
        for t in trees:
            options = _options(t)
            if options is None:
                continue
            possible |= {o for o in options if isinstance(o, str) and o}
        if anything and (possible or anything > 1):
            # (any format at all, met by a formatted operand: whether they line up is not known)
            self.fail(stmt, "the labels of an operand of this elementwise operation are not known when sct "
                      "compiles the function (it comes from a list or dict filled in the function, a loop, or "
                      "an operation whose result's labels depend on values), and another operand is "
                      "formatted: sct aligns formatted operands by their labels when it compiles the "
                      "function. Label it (dlarray(stripdims(v), fmt)) or call stripdims on both")
        if anything:
            return UNKNOWN
        if len(possible) > 1:
            first = max(possible, key=len)
            if not all(o == first or first.endswith(o) for o in possible):
                self.fail(stmt, "the labels of an operand of this elementwise operation are not known when sct "
                          "compiles the function: its format differs by path (a list's item picked when the "
                          "function runs, a name assigned in a branch or a loop with other labels), one of "
                          f"{', '.join(repr(o) for o in sorted(possible))}, and sct aligns formatted operands "
                          "by their labels when it compiles the function. Give the data one format (arrange it "
                          "with np.transpose and relabel it with dlarray(..., fmt)) or call stripdims")
        return one_of(possible) if possible else UNKNOWN

    def aligned(self, stmt, node, fields, env, rewrite):
        """An elementwise operation whose operands (``node``'s ``fields``) are combined by label: an operand
        labelled in another order is transposed into the first's order before the statement."""
        def get(f):
            return getattr(node, f) if isinstance(f, str) else getattr(node, f[0])[f[1]]

        def put(f, v):
            if isinstance(f, str):
                setattr(node, f, v)
            else:
                getattr(node, f[0])[f[1]] = v
        perms: List = []
        tree = self.combine([self.expr(get(f), env, stmt) for f in fields], stmt, perms)
        if not rewrite or not any(p is not None for _, p in perms):
            return tree, None
        new: List = []
        for i, perm in perms:
            if perm is not None:
                put(fields[i], self.transposed(get(fields[i]), perm, "aligned", stmt, new))
        return tree, new + [stmt]

    def transposed(self, value, perm, base, stmt, new):
        """A load of a new name holding ``np.transpose(value, perm)``, its statement appended to ``new``."""
        target = stmt.targets[0].id if isinstance(stmt, gast.Assign) and isinstance(stmt.targets[0], gast.Name) \
            else "x"
        name = self.namer.fresh(f"{target}_{base}")
        new.append(assign(name, call(f"{self.rt}.format_transpose",
                                     [value, gast.Tuple(elts=[const(i) for i in perm], ctx=gast.Load())]),
                          stmt.lineno))
        return load(name)

    # --- calls ---------------------------------------------------------------------------------
    def call(self, stmt, node: gast.Call, env, rewrite):
        """(the result's format tree, replacement statements or None): unformatted, as written."""
        return None, None

    # --- kinds -------------------------------------------------------------------------------
    def kind_at(self, v):
        """The kind of the value ``v`` (a parameter, its attribute or constant item) when compiled."""
        if isinstance(v, gast.Name):
            if v.id in self.local_kinds:
                return self.local_kinds[v.id]
            return None if v.id in self.stored else self.kinds.get(v.id)
        if isinstance(v, gast.Attribute) or (isinstance(v, gast.Subscript) and isinstance(v.slice, gast.Constant)):
            base = self.kind_at(v.value)
            key = v.attr if isinstance(v, gast.Attribute) else v.slice.value
            if not (isinstance(base, tuple) and len(base) > 2 and isinstance(base[2], tuple)):
                return None
            if base[0] == "seq" and isinstance(key, int) and -len(base[2]) <= key < len(base[2]):
                return base[2][key]
            if (base[0] == "obj" and isinstance(v, gast.Attribute)) or \
                    (base[0] == "map" and isinstance(v, gast.Subscript)):
                for item in base[2]:
                    if isinstance(item, tuple) and len(item) == 2 and item[0] == key:
                        return item[1]
        return None
