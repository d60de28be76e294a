"""Data formats at compile time: the labels of formatted dlarrays followed through a function.

Inside generated code values are plain arrays, so a format is part of an
argument's kind (``sct.kinds``) and this pass, run on the normalized function
(one operation per statement), computes the format of every name:

* elementwise operators, numpy's elementwise ufuncs, ``np.where``/``np.clip``
  and the elementwise deep-learning functions keep the one format of their
  operands (two different formats: refused, as outside dlfeval);
* a deep-learning function that reads a layout (``dlconv``, ``maxpool``,
  ``avgpool``, the normalisations, ``fullyconnect``, ``softmax``,
  ``crossentropy``) given a formatted input or ``DataFormat=`` is *lowered*
  into ``np.transpose``/``np.reshape`` statements around the same function in
  sct's default layout (``sct.runtime.formats.plan``), so its rule and every
  derivative order are the existing ones; its result gets MATLAB's format;
* ``dims(x)`` and ``finddim(x, "C")`` become constants, ``stripdims`` drops
  the labels, ``dlarray(x, "SSCB")`` sets them;
* any other op gives an unformatted value (never a wrong label).

The formats of the returned values are a tree that ``dlfeval`` puts on its
outputs, once per call.  Nothing is emitted for a function that meets no
format.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional

import gast
import numpy as np

from .analysis import Resolver, classify_call
from .errors import CompileError
from .ir import assign, call, const, load, walk_nodes
from .plans import CallKind
from .runtime import dlfun, network, nn, support
from .runtime import formats as rf


class _Unknown:
    def __repr__(self):
        return "UNKNOWN"


UNKNOWN = _Unknown()        # a value whose format differs by path or cannot be followed


LAYOUT_OPS = {id(getattr(dlfun, n, None) or getattr(nn, n)): n for n in rf.LAYOUT_FUNCTIONS}
FIXED_OPS = {id(getattr(nn, n, None) or getattr(dlfun, n)): n for n in rf.FIXED_LAYOUT}
RECURRENT_OPS = {id(getattr(nn, n)): n for n in rf.RECURRENT_FUNCTIONS}
ELEMENTWISE = {id(f) for f in (np.where, np.clip, nn.relu, nn.leakyrelu, nn.sigmoid, dlfun.gelu, dlfun.dropout)}


def tree_of_kind(kind):
    """The formats inside an argument of this kind (None when there are none)."""
    if not isinstance(kind, tuple) or not kind:
        return None
    tag = kind[0]
    if tag in ("dl", "nd"):
        return kind[3] if len(kind) > 3 else None
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
    if tree is None:
        return False
    if isinstance(tree, tuple):
        return any(has_format(t) for t in tree)
    if isinstance(tree, dict):
        return any(has_format(t) for t in tree.values())
    return True          # a str or UNKNOWN


def merge(a, b):
    if a is b or (type(a) is type(b) and not isinstance(a, _Unknown) and a == b):
        return a
    if isinstance(a, tuple) and isinstance(b, tuple) and len(a) == len(b):
        return tuple(merge(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys():
        return {k: merge(a[k], b[k]) for k in a}
    return UNKNOWN


def output_tree(tree):
    """What dlfeval puts on the outputs: UNKNOWN becomes unformatted."""
    if isinstance(tree, _Unknown):
        return None
    if isinstance(tree, tuple):
        items = tuple(output_tree(t) for t in tree)
        return items if any(t is not None for t in items) else None
    if isinstance(tree, dict):
        items = {k: output_tree(t) for k, t in tree.items()}
        return items if any(t is not None for t in items.values()) else None
    return tree


def _uses_formats(fdef, resolver: Resolver) -> bool:
    from .runtime.dlarray import dlarray
    from .runtime.layer_types import finddim as layout_finddim
    for node in walk_nodes(fdef):
        if isinstance(node, gast.Call):
            if any(k.arg == "DataFormat" for k in node.keywords):
                return True
            target = resolver.resolve(node.func)
            if target in (rf.dims, rf.finddim, rf.stripdims, layout_finddim) or \
                    (target is dlarray and (len(node.args) > 1 or node.keywords)):
                return True
    return False


class FormatPass:
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

    def fail(self, stmt, message: str, construct: str = "data format"):
        raise CompileError(message, self.filename, getattr(stmt, "lineno", None) or self.fdef.lineno, construct)

    def run(self):
        if not any(has_format(t) for t in self.params.values()) and not _uses_formats(self.fdef, self.resolver):
            return None
        env = dict(self.params)
        self.fdef.body = self.block(self.fdef.body, env, True)
        tree = output_tree(self.out)
        if self.mode == "vjp" and has_format(tree):
            self.fail(self.fdef, f"{self.fdef.name}() returns a formatted dlarray: sct follows data formats "
                      "through the function dlfeval runs, not yet out of the functions it calls; label the "
                      "result there (dlarray(stripdims(y), fmt)) or make the call in that function")
        return tree

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
                for n in walk_nodes(s.target):
                    if isinstance(n, gast.Name):
                        env[n.id] = None
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
            orelse = self.block(s.orelse, env, rewrite)
            if rewrite:
                s.body, s.orelse = body, orelse
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
        if isinstance(target, gast.Name) and isinstance(s.value, (gast.Name, gast.Attribute, gast.Subscript)) \
                and self.stored.get(target.id) == 1:
            self.local_kinds[target.id] = self.kind_at(s.value)
        if isinstance(s.value, gast.Call):
            tree, new = self.call(s, s.value, env, rewrite)
        elif isinstance(s.value, gast.BinOp) and not isinstance(s.value.op, gast.MatMult):
            tree, new = self.aligned(s, s.value, ["left", "right"], env, rewrite)
        elif isinstance(s.value, gast.Compare) and len(s.value.comparators) == 1:
            tree, new = self.aligned(s, s.value, ["left", ("comparators", 0)], env, rewrite)
        else:
            tree, new = self.expr(s.value, env, s), None
        if isinstance(target, gast.Name):
            env[target.id] = tree
        elif isinstance(target, gast.Tuple):
            for i, e in enumerate(target.elts):
                if isinstance(e, gast.Name):
                    env[e.id] = tree[i] if isinstance(tree, tuple) and i < len(tree) else \
                        (UNKNOWN if isinstance(tree, _Unknown) else None)
        return new if new is not None else [s]

    # --- expressions ----------------------------------------------------------------------------
    def expr(self, v, env, stmt):
        if isinstance(v, gast.Name):
            return env.get(v.id, self.params.get(v.id))
        if isinstance(v, (gast.Tuple, gast.List)):
            items = tuple(self.expr(e, env, stmt) for e in v.elts)
            return items if any(has_format(t) for t in items) else None
        if isinstance(v, gast.Dict):
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
            if isinstance(base, str):
                items = key.elts if isinstance(key, gast.Tuple) else [key]
                return base if all(isinstance(i, gast.Slice) for i in items) and len(items) <= len(base) \
                    else None
            return None
        if isinstance(v, gast.Attribute):
            base = self.expr(v.value, env, stmt)
            if isinstance(base, dict):
                return base.get(v.attr)
            return None
        if isinstance(v, gast.BinOp):
            if isinstance(v.op, gast.MatMult):
                return None
            return self.combine([self.expr(v.left, env, stmt), self.expr(v.right, env, stmt)], stmt)
        if isinstance(v, gast.UnaryOp):
            return None if isinstance(v.op, gast.Not) else self.expr(v.operand, env, stmt)
        if isinstance(v, gast.Compare):
            return self.combine([self.expr(v.left, env, stmt)] + [self.expr(c, env, stmt) for c in v.comparators],
                                stmt)
        if isinstance(v, gast.IfExp):
            return merge(self.expr(v.body, env, stmt), self.expr(v.orelse, env, stmt))
        return None

    def combine(self, trees, stmt, perms=None):
        """The one format of elementwise operands.  With ``perms`` (a list, filled per operand), an
        operand with the first format's labels in another order is arranged into that order (MATLAB
        permutes every formatted dlarray into one order); otherwise, and for different labels, refused."""
        first = None
        for t in trees:
            if isinstance(t, _Unknown):
                return UNKNOWN
        for i, t in enumerate(trees):
            if not isinstance(t, str):
                continue
            if first is None or t == first:
                first = t
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

    # --- calls ----------------------------------------------------------------------------------
    def call(self, stmt, node: gast.Call, env, rewrite):
        """(the result's format tree, replacement statements or None)."""
        from .runtime.dlarray import dlarray
        from .runtime.layer_types import finddim as layout_finddim
        info = classify_call(node, self.resolver)
        target = info.obj
        args = [self.expr(a, env, stmt) for a in node.args]
        kws = {k.arg: self.expr(k.value, env, stmt) for k in node.keywords if k.arg}
        if info.kind == CallKind.CREATE:
            fmt_node = node.args[1] if len(node.args) > 1 else \
                next((k.value for k in node.keywords if k.arg == "fmt"), None)
            if fmt_node is None:
                return (args[0] if args else None), None
            if not (isinstance(fmt_node, gast.Constant) and isinstance(fmt_node.value, str)):
                self.fail(stmt, "dlarray(x, fmt) inside dlfeval needs the format as a literal string "
                          "(the labels are followed when the function is compiled)")
            if has_format(args[0] if args else None):
                self.fail(stmt, "dlarray(x, fmt): x is already formatted; call stripdims first")
            try:
                rf.check_format(fmt_node.value)
            except (TypeError, ValueError) as exc:
                self.fail(stmt, str(exc))
            return fmt_node.value, None
        if info.kind == CallKind.SITE:
            xs = args[1:]
            return (xs[0] if len(xs) == 1 else (tuple(xs) if xs else None)), None
        if info.kind == CallKind.STOP:
            return None, None
        if target is rf.dims or target is rf.finddim or target is layout_finddim:
            x = args[0] if args else None
            if isinstance(x, _Unknown) or isinstance(x, (tuple, dict)):
                self.fail(stmt, f"{target.__name__}: the format of its argument is not known when the function "
                          "is compiled (it differs by path, or comes from a call sct does not follow)")
            if target is layout_finddim and x is None and node.args and isinstance(node.args[0], gast.Name) \
                    and node.args[0].id not in self.params and node.args[0].id not in env:
                return None, None              # a NetworkDataLayout: runs as written
            fmt = x or ""
            if target is rf.dims:
                value = const(fmt)
            else:
                label = node.args[1] if len(node.args) > 1 else None
                if not (isinstance(label, gast.Constant) and isinstance(label.value, str)):
                    self.fail(stmt, "finddim(x, label) inside dlfeval needs the label as a literal string")
                value = gast.List(elts=[const(i) for i, c in enumerate(fmt) if c == label.value], ctx=gast.Load())
            if rewrite and isinstance(stmt, gast.Assign):
                stmt.value = value
            return None, None
        if target is rf.stripdims:
            return None, None
        if target is support.inplace_result:        # t op= v: the format of t op v
            return (args[0] if args else None), None
        if info.kind in (CallKind.OP, CallKind.NONDIFF, CallKind.PLAIN, CallKind.FUNCTION) and id(target) in LAYOUT_OPS:
            return self.lower(stmt, node, LAYOUT_OPS[id(target)], args, env, rewrite)
        if id(target) in RECURRENT_OPS and target is getattr(nn, RECURRENT_OPS[id(target)]):
            return self.lower_recurrent(stmt, node, RECURRENT_OPS[id(target)], args, kws, env, rewrite)
        if info.kind in (CallKind.OP, CallKind.NONDIFF, CallKind.PLAIN, CallKind.FUNCTION) and id(target) in FIXED_OPS:
            name = FIXED_OPS[id(target)]
            new: List = []
            first = args[0] if args else None
            for pos, t in list(enumerate(args)) + [(k, v) for k, v in kws.items()]:
                if name in rf.LOSS_FUNCTIONS and pos in (1, "targets", "Mask") and isinstance(first, str) and \
                        isinstance(t, str) and t != first and rf.same_labels(t, first) and \
                        first in rf.FIXED_LAYOUT[name]:
                    # the targets (or mask) labelled in another order: arranged into the prediction's order
                    perm = rf.align_perm(t, first)
                    if rewrite:
                        if isinstance(pos, int):
                            node.args[pos] = self.transposed(node.args[pos], perm, "aligned", stmt, new)
                        else:
                            k = next(k for k in node.keywords if k.arg == pos)
                            k.value = self.transposed(k.value, perm, "aligned", stmt, new)
                    continue
                if isinstance(t, _Unknown) or (isinstance(t, str) and t not in rf.FIXED_LAYOUT[name]):
                    self.fail(stmt, f"{name} does not read data formats yet: its input is laid out as "
                              f"{' or '.join(rf.FIXED_LAYOUT[name])}; arrange the data (np.transpose) and call "
                              "stripdims first")
            return None, (new + [stmt] if new else None)
        if info.kind in (CallKind.OP, CallKind.NONDIFF, CallKind.PLAIN) and (id(target) in ELEMENTWISE or (
                isinstance(target, np.ufunc) and target.signature is None)):
            if len(node.args) < 2 or kws and any(has_format(t) for t in kws.values()):
                return self.combine(args + list(kws.values()), stmt), None
            return self.aligned(stmt, node, [("args", i) for i in range(len(node.args))], env, rewrite)
        if target is network.forward or target is network.predict:
            return self.lower_network(stmt, node, target.__name__, args, kws, env, rewrite)
        if info.kind in (CallKind.FUNCTION, CallKind.METHOD) and info.rule is None:
            receiver = [env.get(info.receiver, self.params.get(info.receiver))] if info.receiver else []
            if any(has_format(t) for t in args + list(kws.values()) + receiver):
                name = getattr(target, "__name__", None) or info.method or "the function"
                self.fail(stmt, f"a formatted dlarray is passed to {name}(): sct follows data formats through "
                          "the function dlfeval runs, not yet into the functions it calls. Pass stripdims(x) "
                          "and give the deep-learning calls there DataFormat=..., or make the calls in this "
                          "function", "formatted argument")
        return None, None

    def given_format(self, stmt, node, fname: str, x):
        """The input's format as the call gives it: ``(DataFormat=..., False)`` for an unformatted
        input, ``(its labels, True)`` for a formatted one, or None (neither)."""
        explicit = next((k for k in node.keywords if k.arg == "DataFormat"), None)
        if explicit is not None:
            if not (isinstance(explicit.value, gast.Constant) and isinstance(explicit.value.value, str)):
                self.fail(stmt, f"{fname}: DataFormat inside dlfeval must be a literal string")
            if isinstance(x, str):
                self.fail(stmt, f"{fname}: DataFormat is for unformatted input; the input is labelled {x!r}")
            return explicit.value.value, False
        if isinstance(x, str):
            return x, True
        return None

    def lower(self, stmt, node, fname, args, env, rewrite):
        x = args[0] if args else None
        given = self.given_format(stmt, node, fname, x)
        if given is not None:
            fmt, formatted = given
        elif isinstance(x, _Unknown):
            self.fail(stmt, f"{fname}: the format of its input is not known when the function is compiled (it "
                      "differs by path, or comes from a call sct does not follow): give DataFormat= on "
                      "stripdims(x)")
        else:
            loss = fname == "crossentropy" or fname in rf.LOSS_FUNCTIONS
            kws = {k.arg: self.expr(k.value, env, stmt) for k in node.keywords if k.arg in ("targets", "Mask")}
            for what, t in (("targets", args[1] if len(args) > 1 else kws.get("targets")), ("Mask", kws.get("Mask"))):
                if loss and has_format(t):
                    self.fail(stmt, f"{fname}: the {what} are labelled {t!r} but the predictions are "
                              "unformatted: label the predictions (dlarray(Y, fmt)) or give DataFormat=")
            return None, None
        align = {}
        if fname == "crossentropy" or fname in rf.LOSS_FUNCTIONS:
            mask = next((k.value for k in node.keywords if k.arg == "Mask"), None)
            for pos, t in ((1, args[1] if len(args) > 1 else None),
                           ("Mask", self.expr(mask, env, stmt) if mask is not None else None)):
                if isinstance(t, _Unknown) or (isinstance(t, str) and not rf.same_labels(t, fmt)):
                    self.fail(stmt, f"{fname}: the {'targets' if pos == 1 else 'mask'} are labelled {t!r}, "
                              f"the predictions {fmt!r}")
                if isinstance(t, str) and t != fmt:
                    align[pos] = rf.align_perm(t, fmt)     # arranged into the predictions' order first
            for k in node.keywords:
                if (k.arg == "Mask" and fname == "crossentropy") or (
                        k.arg == "Reduction" and not (isinstance(k.value, gast.Constant)
                                                      and k.value.value in ("sum", None))):
                    self.fail(stmt, f"{fname}: Mask (crossentropy) and Reduction='none' are taken for data in "
                              "sct's layout (batch first, channels last): pass stripdims(Y) arranged that way")
        options = {}
        for k in node.keywords:
            if k.arg in ("OperationDimension", "nargout"):
                if not isinstance(k.value, gast.Constant):
                    self.fail(stmt, f"{fname}: {k.arg} must be a literal with formatted data")
                options[k.arg] = k.value.value
        try:
            p = rf.plan(fname, fmt, formatted, options)
        except (TypeError, ValueError) as exc:
            self.fail(stmt, str(exc))
        tree = p.out_format
        if p.item is not None:
            tree = (p.out_format, None, None) if p.out_format else None
        if not rewrite or not isinstance(stmt, gast.Assign) or not isinstance(stmt.targets[0], gast.Name):
            return tree, None
        line = stmt.lineno
        result = stmt.targets[0].id
        new: List = []

        def emit(base, value):
            name = self.namer.fresh(base)
            s = assign(name, value, line)
            new.append(s)
            return name

        new_args = list(node.args)
        if fname == "crossentropy" or fname in rf.LOSS_FUNCTIONS:   # weights: vectors only (checked when run)
            if len(new_args) > 2 and fname != "mse":
                new_args[2] = load(emit(result + "_weights", call(f"{self.rt}.crossentropy_class_weights",
                                                                  [new_args[2], const(fname)])))
            for k in node.keywords:
                if k.arg == "weights":
                    k.value = load(emit(result + "_weights", call(f"{self.rt}.crossentropy_class_weights",
                                                                  [k.value, const(fname)])))
        keyed = {k.arg: k for k in node.keywords}
        for pos, perm, flatten in p.pre:
            if isinstance(pos, str):
                if pos not in keyed:
                    continue
                a = keyed[pos].value
            elif pos >= len(new_args):
                self.fail(stmt, f"{fname}: pass the {'targets' if pos else 'input'} positionally with formatted data")
            else:
                a = new_args[pos]
            if pos in align:
                perm = rf.compose(align[pos], perm)
            if perm is not None:
                a = load(emit(result + "_arranged", call(f"{self.rt}.format_transpose",
                                                         [a, gast.Tuple(elts=[const(i) for i in perm],
                                                                        ctx=gast.Load())])))
            if flatten is not None:
                shape = emit(result + "_shape", call(f"{self.rt}.flat_shape", [a, const(flatten)]))
                a = load(emit(result + "_flat", call(f"{self.rt}.format_reshape", [a, load(shape)])))
            if isinstance(pos, str):
                keyed[pos].value = a
            else:
                new_args[pos] = a
        keywords = [k for k in node.keywords if k.arg != "DataFormat" and k.arg not in p.options]
        keywords += [gast.keyword(arg=k, value=const(v)) for k, v in p.options.items()]
        core = gast.Call(func=node.func, args=new_args, keywords=keywords)
        perm_node = gast.Tuple(elts=[const(i) for i in p.post], ctx=gast.Load()) if p.post is not None else None
        if p.post is None:
            new.append(assign(result, core, line))
        elif p.item is None:
            inner = emit(result + "_core", core)
            new.append(assign(result, call(f"{self.rt}.format_transpose", [load(inner), perm_node]), line))
        else:
            inner = emit(result + "_core", core)
            parts = []
            for i in range(3):
                part = emit(f"{result}_{i}", gast.Subscript(value=load(inner), slice=const(i), ctx=gast.Load()))
                if i == p.item:
                    part = emit(f"{result}_{i}", call(f"{self.rt}.format_transpose", [load(part), perm_node]))
                parts.append(load(part))
            new.append(assign(result, gast.Tuple(elts=parts, ctx=gast.Load()), line))
        return tree, new


    def lower_recurrent(self, stmt, node, fname, args, kws, env, rewrite):
        """``lstm``/``gru`` on formatted X (or DataFormat=): X arranged (batch, time, features), the
        states into (batch, hidden), the default-layout call, and its outputs arranged back
        (``sct.runtime.formats.recurrent_plan``)."""
        nstate = rf.RECURRENT_FUNCTIONS[fname]
        names = ("X", "H0", "C0")[:1 + nstate] + ("weights", "recurrentWeights", "bias")
        for k in node.keywords:
            if k.arg != "DataFormat" and has_format(kws.get(k.arg)):
                self.fail(stmt, f"{fname}: pass formatted inputs positionally")
        x = args[0] if args else None
        given = self.given_format(stmt, node, fname, x)
        if given is not None:
            fmt, formatted = given
        elif isinstance(x, _Unknown) or any(has_format(t) for t in args[1:]):
            self.fail(stmt, f"{fname}: the format of X is not known when the function is compiled (it differs by "
                      "path, comes from a call sct does not follow, or X is unformatted while the states or "
                      "weights are formatted): label X or give DataFormat= on stripdims(X)")
        else:
            return None, None
        for t in args[1:]:
            if not (t is None or isinstance(t, str)):
                self.fail(stmt, f"{fname}: the format of an argument is not known when the function is compiled")
        if len(node.args) < 1 + nstate:
            self.fail(stmt, f"{fname}: pass X and the states positionally with formatted data")
        states = [args[i] if i < len(args) else None for i in range(1, 1 + nstate)]
        weight_formats = [(n, args[i] if i < len(args) else None, a) for i, n, a in
                          zip(range(1 + nstate, 4 + nstate), names[1 + nstate:], (("CU",), ("CU",), ("C",)))]
        try:
            p = rf.recurrent_plan(fname, fmt, formatted, list(zip(names[1:], states)), weight_formats)
        except (TypeError, ValueError) as exc:
            self.fail(stmt, str(exc))
        tree = (p.y_format,) + tuple(p.state_format if (s and formatted) else None for s in states)
        if not any(t is not None for t in tree):
            tree = None
        if not rewrite or not isinstance(stmt, gast.Assign) or not isinstance(stmt.targets[0], gast.Name):
            if rewrite:
                self.fail(stmt, f"{fname} on formatted data: assign its result (Y, h = {fname}(...))")
            return tree, None
        line = stmt.lineno
        result = stmt.targets[0].id
        new: List = []

        def emit(base, value):
            name = self.namer.fresh(base)
            new.append(assign(name, value, line))
            return name

        def perm_tuple(perm):
            return gast.Tuple(elts=[const(i) for i in perm], ctx=gast.Load())

        new_args = list(node.args)
        a = new_args[0]
        if p.x_perm is not None:
            a = load(emit(result + "_arranged", call(f"{self.rt}.format_transpose", [a, perm_tuple(p.x_perm)])))
        if p.reshape:
            shape = emit(result + "_shape", call(f"{self.rt}.recurrent_shape", [a, const(p.has_b), const(p.has_t)]))
            a = load(emit(result + "_flat", call(f"{self.rt}.format_reshape", [a, load(shape)])))
        new_args[0] = a
        for i, s in enumerate(states, 1):
            if isinstance(s, str):
                perm = rf.align_perm(s, "BC", fname) if "B" in s else None
                if perm is not None:
                    new_args[i] = load(emit(f"{result}_state", call(f"{self.rt}.format_transpose",
                                                                    [new_args[i], perm_tuple(perm)])))
            elif p.c_first:
                new_args[i] = load(emit(f"{result}_state", call(f"{self.rt}.state_arrange",
                                                                [new_args[i], const(True)])))
        keywords = [k for k in node.keywords if k.arg != "DataFormat"]
        inner = emit(result + "_core", gast.Call(func=node.func, args=new_args, keywords=keywords))
        parts = []
        y = emit(f"{result}_0", gast.Subscript(value=load(inner), slice=const(0), ctx=gast.Load()))
        if p.reshape:
            shape = emit(result + "_shape", call(f"{self.rt}.recurrent_out_shape",
                                                 [load(y), const(p.has_b), const(p.has_t)]))
            y = emit(f"{result}_0", call(f"{self.rt}.format_reshape", [load(y), load(shape)]))
        if p.y_post is not None:
            y = emit(f"{result}_0", call(f"{self.rt}.format_transpose", [load(y), perm_tuple(p.y_post)]))
        parts.append(load(y))
        for i in range(1, 1 + nstate):
            h = emit(f"{result}_{i}", gast.Subscript(value=load(inner), slice=const(i), ctx=gast.Load()))
            if p.c_first:
                h = emit(f"{result}_{i}", call(f"{self.rt}.state_arrange", [load(h), const(True)]))
            parts.append(load(h))
        new.append(assign(result, gast.Tuple(elts=parts, ctx=gast.Load()), line))
        return tree, new

    # --- networks -------------------------------------------------------------------------------
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

    def lower_network(self, stmt, node, fname, args, kws, env, rewrite):
        """``forward(net, X)`` / ``predict(net, X)`` with formatted inputs: each input transposed into the
        layout of the network's input layer before the call; the outputs' formats follow from the layers
        (the network's structure is part of its kind, so another structure compiles anew)."""
        xs = args[1:]
        if not any(has_format(t) for t in xs + list(kws.values())):
            return None, None
        if any(has_format(t) for t in kws.values()):
            self.fail(stmt, f"{fname}: pass formatted inputs positionally ({fname}(net, X1, X2))")
        if any(not (t is None or isinstance(t, str)) for t in xs):
            self.fail(stmt, f"{fname}: the format of an input is not known when the function is compiled (it "
                      "differs by path, or comes from a call sct does not follow)")
        kind = self.kind_at(node.args[0]) if node.args else None
        graph = None
        if isinstance(kind, tuple) and kind[:2] == ("obj", network.dlnetwork):
            graph = next((k for n, k in kind[2] if n == "_graph"), None)
        if not (isinstance(graph, tuple) and len(graph) == 3 and isinstance(graph[2], int)):
            self.fail(stmt, f"{fname}: formatted inputs need the network's layers when the function is compiled: "
                      "pass the initialized dlnetwork as an argument of the function dlfeval runs (or an attribute "
                      "or constant item of one), not a value made or reassigned in the function")
        wanted = next((k.value for k in node.keywords if k.arg == "Outputs"), None)
        if isinstance(wanted, gast.Name) and wanted.id in self.constants:
            wanted = self.constants[wanted.id]
        outputs = None
        if wanted is not None:
            items = wanted.elts if isinstance(wanted, (gast.List, gast.Tuple)) else [wanted]
            if not all(isinstance(e, gast.Constant) and isinstance(e.value, str) for e in items):
                self.fail(stmt, f"{fname}: with formatted inputs, Outputs must be literal layer names "
                          "(Outputs=[\"fc1\", \"softmax\"]): the outputs' formats are found when the function "
                          "is compiled")
            outputs = [e.value for e in items] if isinstance(wanted, (gast.List, gast.Tuple)) else items[0].value
        try:
            perms, outs = network.format_structure(graph[2], [t or "" for t in xs], fname, outputs)
        except ValueError as exc:
            self.fail(stmt, str(exc))
        nargout = next((k.value for k in node.keywords if k.arg == "nargout"), None)
        if nargout is not None and not isinstance(nargout, gast.Constant):
            self.fail(stmt, f"{fname}: nargout must be a literal with formatted inputs")
        value = outs[0] if len(outs) == 1 else (outs if any(o is not None for o in outs) else None)
        tree = (value, None) if fname == "forward" or (nargout is not None and nargout.value == 2) else value
        if not rewrite or not any(p is not None for p in perms):
            return tree, None
        new: List = []
        for j, perm in enumerate(perms):
            if perm is not None:
                node.args[j + 1] = self.transposed(node.args[j + 1], perm, "arranged", stmt, new)
        return tree, new + [stmt]


def follow_formats(fdef, resolver, param_kinds, filename, namer, rt_name, mode):
    """Run the pass on ``fdef`` (rewriting it); the formats of its result (None: unformatted)."""
    return FormatPass(fdef, resolver, param_kinds, filename, namer, rt_name, mode).run()
