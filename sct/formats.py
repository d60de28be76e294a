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
* as in MATLAB, ``np.concatenate`` of arrays of one format keeps it, so do
  casts and copies; a reduction keeps the labels of the dimensions it keeps
  (all of them with ``keepdims=True``) and indexing by slices and integers
  those of the dimensions its slices keep (``x[:, :, t]`` of 'CBT': 'CB'); ``np.flip``,
  ``np.fliplr``, ``np.flipud`` and ``np.roll`` keep them (MATLAB's flip and circshift: the same
  dimensions in the same order);
* any other op gives an unformatted value (never a wrong label).

The formats of the returned values are a tree that ``dlfeval`` puts on its
outputs, once per call.  Nothing is emitted for a function that meets no
format.  The walk over statements and expressions is ``sct.format_inference``,
the layout-reading calls (planned, then their statements) ``sct.format_layout``;
this module picks what each call does.
"""
from __future__ import annotations

from typing import List

import copy
import re
import types

import gast
import numpy as np

from .runtime.origins import module_top
from .analysis import Resolver, classify_call
from .format_inference import (UNKNOWN, LOST, _Lost, _Unknown, has_format, lost_from, merge, output_tree,  # noqa: F401
                               tree_of_kind)
from .format_layout import LAYOUT_OPS, RECURRENT_OPS, LayoutCalls
from .ir import assign, call, const, dotted_name, load, shared_walks, walk_nodes
from .plans import CallKind
from .runtime import dlfun, network, nn, registry, support
from .runtime.dlarray import (_LABEL_KEEPING_METHODS as LABEL_KEEPING_METHODS, KEEPDIMS_REDUCTIONS,
                               _SAME_DIMS_FUNCTIONS as SAME_DIMS_FUNCTIONS)
from .runtime import formats as rf
from .runtime.labels import LABEL_LOSING_OPS, lost_message


FIXED_OPS = {id(getattr(nn, n, None) or getattr(dlfun, n)): n for n in rf.FIXED_LAYOUT}
ELEMENTWISE = {id(f) for f in (np.where, np.clip, np.real, np.imag, nn.relu, nn.leakyrelu, nn.sigmoid, dlfun.gelu,
                               dlfun.dropout, abs, pow)}      # (abs(x), pow(x, 2): x.__abs__, x.__pow__)
_OP_KINDS = (CallKind.OP, CallKind.NONDIFF, CallKind.PLAIN, CallKind.FUNCTION)
# numpy's functions of an array giving its metadata (no array of its values): their results carry no labels
METADATA_FUNCTIONS = frozenset(("shape", "size", "ndim", "result_type", "iscomplexobj", "isrealobj", "isscalar",
                                "may_share_memory", "shares_memory", "min_scalar_type", "tolist", "item",
                                "array_equal", "array_equiv", "allclose", "any", "all", "count_nonzero"))
# numpy's conversions to a plain array (np.asarray(X) outside dlfeval is an ndarray, read as the user says)
PLAIN_ARRAY_FUNCTIONS = frozenset(("array", "asarray", "asanyarray", "ascontiguousarray", "asfortranarray"))
# elementwise functions with two outputs (each labelled as the operands, as outside dlfeval)
TWO_OUTPUTS = {id(f) for f in (divmod, np.divmod, np.modf, np.frexp)}
# calls run as they are whose result holds no array of their arguments (not a container of them, not a
# copy): unformatted, whatever they are given
NO_ARRAY_RESULTS = (len, isinstance, issubclass, print, int, float, bool, complex, str, repr, format, id, type, hash,
                    callable, hasattr, range)


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


def _users_callable(target) -> bool:
    """A callable run as it is that may return a dlarray: a partial or an object of the user's (not numpy's,
    sct's or a builtin)."""
    if target is None or isinstance(target, (types.BuiltinFunctionType, types.BuiltinMethodType, type)):
        return False
    return (module_top(target) or module_top(type(target))) not in ("numpy", "sct", "builtins", "math", "operator",
                                                                   "itertools")


class FormatPass(LayoutCalls):
    """The format inference of ``sct.format_inference`` with the calls that read or set formats (those
    that read a layout: ``sct.format_layout``).  ``follower`` picks the method for a call; each takes
    ``(stmt, node, info, args, kws, env, rewrite)`` and gives (the result's format tree, replacement
    statements or None)."""
    def run(self):
        if not self.needed():
            return None
        return self.rewrite()

    def needed(self) -> bool:
        """Does the function meet data formats (an argument's, or a call that reads or sets one)?"""
        return lost_from(self.params.values()) or _uses_formats(self.fdef, self.resolver)

    def rewrite(self):
        env = dict(self.params)
        reads = self.outside_reads()
        for name, fmt, _ in reads.values():
            env[name] = fmt
        self.fdef.body = self.block(self.fdef.body, env, True)
        self.rename_site_reads()
        if reads:       # each read once, at the top: what the function's code then reads by its labels
            self.fdef.body[:0] = [assign(name, call(f"{self.rt}.outside_data", [outer]), self.fdef.lineno)
                                  for name, _, outer in reads.values()]
        tree = output_tree(self.out)
        if self.mode == "vjp" and has_format(tree):
            self.fail(self.fdef, f"{self.fdef.name}() returns a formatted dlarray: sct follows data formats "
                      "through the function dlfeval runs, not yet out of the functions it calls; label the "
                      "result there (dlarray(stripdims(y), fmt)) or make the call in that function")
        return tree

    def assignment(self, s, env, rewrite):
        """``t = obj.X`` / ``t = xs[k]`` giving a formatted dlarray: its data, as the function's code holds
        the values it follows the labels of (an argument's object or namespace is not unwrapped: ``data.X``
        of an argument reached the code as the dlarray itself, so ``stripdims(data.X)``, compiled away,
        left its labels to ``softmax``, which read them: another value and gradient)."""
        out = super().assignment(s, env, rewrite)
        target = s.targets[0]
        if isinstance(target, gast.Attribute) and getattr(s, "sct_field_type", "") == "dl":
            # the labels of a dlarray stored on a caller's object (sct.compiler._fields_through): one known
            # format, or none given (was stored as the code's ndarray, red55r W1)
            fmt = env.get(s.value.id) if isinstance(s.value, gast.Name) else None
            s.sct_field_formats = getattr(s, "sct_field_formats", frozenset()) | {fmt if isinstance(fmt, str) else None}
        if rewrite:         # what the code's names hold where they are assigned (sct/outside_formats.py)
            for n in walk_nodes(target):
                if isinstance(n, gast.Name):
                    self.followed[n.id] = merge(self.followed[n.id], env.get(n.id)) if n.id in self.followed \
                        else env.get(n.id)
        if not (rewrite and out == [s] and isinstance(target, gast.Name) and
                isinstance(s.value, (gast.Attribute, gast.Subscript)) and isinstance(env.get(target.id), str) and
                env.get(target.id)):
            return out
        if target.id in self.site_xs():
            # X = data.X; ...; dlgradient(L, X): X stays the value the gradient is with respect to, and the
            # code's other reads of it read X_data = rt.dlarray_of(X) (rename_site_reads)
            if self.stored.get(target.id) != 1:
                self.fail(s, f"a formatted dlarray read from an object ({target.id!r}) that is assigned again and "
                          "given to dlgradient as x: sct cannot follow its labels there; pass it as an argument "
                          "of the function dlfeval runs, or in a dict")
            plain = self.namer.fresh(f"{target.id}_data")
            data = assign(plain, call(f"{self.rt}.dlarray_of", [load(target.id)]), getattr(s, "lineno", None))
            gast.copy_location(data, s)
            self.site_renames[target.id] = (plain, data.value.args[0])
            return [s, data]
        # t_read = obj.X; t = rt.dlarray_of(t_read): its data (differentiable: a traced field's gradient).
        # New statements: ``s`` itself is walked again (a loop's body, to its fixed point) as it was
        read = self.namer.fresh(f"{target.id}_read")
        first = assign(read, s.value, getattr(s, "lineno", None))
        data = assign(target.id, call(f"{self.rt}.dlarray_of", [load(read)]), getattr(s, "lineno", None))
        gast.copy_location(first, s)
        gast.copy_location(data, s)
        return [first, data]

    def rename_site_reads(self) -> None:
        """The reads of each name ``assignment`` gave a data copy (site_renames) read the copy, except
        where it is a site's ``x`` (and the copy's own argument)."""
        renames = getattr(self, "_site_renames", None)
        if not renames:
            return
        keep = {id(arg) for _, arg in renames.values()}
        for n in walk_nodes(self.fdef):
            if isinstance(n, gast.Call) and isinstance(n.func, (gast.Name, gast.Attribute)) and \
                    classify_call(n, self.resolver).kind == CallKind.SITE:
                for a in list(n.args[1:]) + [k.value for k in n.keywords]:
                    keep |= {id(m) for m in walk_nodes(a)}
        for n in walk_nodes(self.fdef):
            if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load) and n.id in renames and id(n) not in keep:
                n.id = renames[n.id][0]

    @property
    def followed(self) -> dict:
        if getattr(self, "_followed", None) is None:
            self._followed = {}
        return self._followed

    @property
    def site_renames(self) -> dict:
        if getattr(self, "_site_renames", None) is None:
            self._site_renames = {}
        return self._site_renames

    def site_xs(self) -> set:
        """The names given as ``x`` to a dlgradient (or other site) call: read as they are (the value the
        gradient is with respect to)."""
        found = getattr(self, "_site_xs", None)
        if found is None:
            found = self._site_xs = set()
            for n in walk_nodes(self.fdef):
                if isinstance(n, gast.Call) and isinstance(n.func, (gast.Name, gast.Attribute)) and \
                        classify_call(n, self.resolver).kind == CallKind.SITE:
                    for a in list(n.args[1:]) + [k.value for k in n.keywords]:
                        found |= {m.id for m in walk_nodes(a) if isinstance(m, gast.Name)}
        return found

    def outside_reads(self):
        """The values the function reads from outside (a module global, a closure's value, an attribute of
        a module, class or namespace) that are formatted dlarrays: {expression: (the local that holds its
        data, its format)}, their loads replaced by that local (``rt.outside_data`` at the top).  Inside
        generated code values are plain arrays, so a formatted global read as it is would meet another
        operand without labels: ``X - T`` of a "CB" argument and a "BC" global was not aligned (another
        value, and a wrong gradient).  Each is guarded by the resolver (another object recompiles); an item
        of an outside list or dict (not guarded: it can change in place) is refused."""
        from .runtime.dlarray import dlarray
        bound = {n.id for n in walk_nodes(self.fdef) if isinstance(n, gast.Name) and not isinstance(n.ctx, gast.Load)}
        bound |= {n.name for n in walk_nodes(self.fdef) if isinstance(n, gast.FunctionDef)}
        resolver = self.resolver
        missing = object()

        def peek(node):
            """The outside value ``node`` (a name, or attributes of one) reads now, unguarded, or missing."""
            if isinstance(node, gast.Name):
                name = node.id
                if name in bound or name in self.params or name in resolver.aliases or name in resolver.locals \
                        or name in resolver.known:
                    return missing
                if name in resolver.cells:
                    try:
                        return resolver.cells[name].cell_contents
                    except ValueError:
                        return missing
                return resolver.globals.get(name, missing)
            if isinstance(node, gast.Attribute) and isinstance(node.ctx, gast.Load):
                base = peek(node.value)
                if isinstance(base, (types.ModuleType, type, types.SimpleNamespace)):
                    return getattr(base, node.attr, missing)
            return missing

        def held_by_object(node):
            """``obj.attr`` of an object outside the function that is no module, class or namespace (those
            ``peek`` reads, guarded): the value it holds now (``inspect.getattr_static``: no property runs),
            or missing."""
            import inspect
            if not (isinstance(node, gast.Attribute) and isinstance(node.ctx, gast.Load)):
                return missing
            owner = peek(node.value)
            if owner is missing and isinstance(node.value, gast.Attribute):
                owner = held_by_object(node.value)
            if owner is missing or isinstance(owner, (types.ModuleType, type, types.SimpleNamespace)):
                return missing
            try:
                return inspect.getattr_static(owner, node.attr)
            except Exception:
                return missing

        # dlgradient(y, T) of an outside T: left as it is, for the site's own message (not traced)
        kept = {id(a) for n in walk_nodes(self.fdef) if isinstance(n, gast.Call) and
                isinstance(n.func, (gast.Name, gast.Attribute)) and classify_call(n, resolver).kind == CallKind.SITE
                for a in n.args[1:]}
        reads: dict = {}
        for stmt in walk_nodes(self.fdef):
            for field, old in gast.iter_fields(stmt):
                items = old if isinstance(old, list) else [old]
                for i, node in enumerate(items):
                    if isinstance(node, gast.Subscript) and isinstance(node.ctx, gast.Load) and \
                            isinstance(node.slice, gast.Constant):
                        container = peek(node.value)
                        try:
                            item = container[node.slice.value] if isinstance(container, (list, tuple, dict)) \
                                else None
                        except (KeyError, IndexError, TypeError):
                            item = None
                        if isinstance(item, dlarray) and item._fmt:
                            self.fail(stmt, f"a formatted dlarray ({item._fmt!r}) read from an item of a list or "
                                      "dict outside the function: sct follows data formats when it compiles the "
                                      "function, and such an item can change without that; pass it as an "
                                      "argument (or bind it to a module-level name)")
                    if not isinstance(node, (gast.Name, gast.Attribute)) or not isinstance(node.ctx, gast.Load) \
                            or id(node) in kept:
                        continue
                    held = held_by_object(node)
                    if isinstance(held, dlarray) and held._fmt:
                        # (was read as it is: a formatted dlarray inside generated code, met by plain arrays
                        # unaligned: z - OBJ.x of a "CB" z and a "BC" OBJ.x, mse(Y, OBJ.T): another value)
                        self.fail(stmt, f"a formatted dlarray ({held._fmt!r}) read from an attribute of an object "
                                  "outside the function: sct follows data formats when it compiles the function, "
                                  "and such an attribute can change without that; pass it as an argument (or bind "
                                  "it to a module-level name)")
                    value = peek(node)
                    if not (isinstance(value, dlarray) and value._fmt):
                        continue
                    key = gast.dump(node)
                    if key not in reads:
                        resolver.resolve(node)          # guarded: another value recompiles
                        text = node.id if isinstance(node, gast.Name) else node.attr
                        reads[key] = (self.namer.fresh(f"{text}_outside"), value._fmt, node)
                    if isinstance(old, list):
                        old[i] = load(reads[key][0])
                    else:
                        setattr(stmt, field, load(reads[key][0]))
        return {key: (name, fmt, node) for key, (name, fmt, node) in reads.items()}

    # --- calls ----------------------------------------------------------------------------------
    def call(self, stmt, node: gast.Call, env, rewrite):
        """(the result's format tree, replacement statements or None)."""
        info = classify_call(node, self.resolver)
        self.refuse_spread(stmt, node, info, env)
        args = [self.expr(a, env, stmt) for a in node.args]
        kws = {k.arg: self.expr(k.value, env, stmt) for k in node.keywords if k.arg}
        if self.follower(info) != self.into_callee:     # (a function of the user's: refused there)
            self.refuse_function_value(stmt, node, info, args + list(kws.values()), env)
        if info.obj is np.matmul or info.obj is np.dot:
            receiver = [self.expr(node.func.value, env, stmt)] if isinstance(node.func, gast.Attribute) else []
            self.refuse_matmul(stmt, f"np.{info.obj.__name__}" if not receiver or receiver[0] is None else ".dot",
                               receiver + [a for a, n in zip(args, node.args) if not isinstance(n, gast.Constant)])
        elif info.kind == CallKind.METHOD and info.method == "dot" and isinstance(node.func, gast.Attribute):
            self.refuse_matmul(stmt, ".dot", [self.expr(node.func.value, env, stmt)] + args)
        follow = self.follower(info)
        if follow is None:
            receiver = [self.expr(node.func.value, env, stmt)] if info.kind == CallKind.METHOD and \
                isinstance(node.func, gast.Attribute) else []
            name = info.method if info.kind == CallKind.METHOD else getattr(info.obj, "__name__", None)
            numpy_call = bool(receiver) or module_top(info.obj) == "numpy"
            # any numpy function or array method of a formatted (or lost) array not followed above (np.cumsum,
            # np.sort, X.clip, X.round, ...) gives labels not known here: LOST, refused by the deep-learning
            # functions, as outside dlfeval (was: unformatted, read in sct's default layout); not what gives
            # an array's metadata (np.shape, np.ndim, ...)
            losing = numpy_call and (name in LABEL_LOSING_OPS or name not in METADATA_FUNCTIONS | PLAIN_ARRAY_FUNCTIONS)
            inputs = receiver + args + list(kws.values())
            if not numpy_call and info.kind == CallKind.PLAIN and _users_callable(info.obj):
                if has_format(tuple(inputs)):
                    # (functools.partial(softmax) bound outside, a callable object: it runs as it is, on the
                    # plain arrays of the generated code, so it read "CB" data in the default layout)
                    name = getattr(info.obj, "__name__", None) or \
                        (node.func.id if isinstance(node.func, gast.Name) else type(info.obj).__name__)
                    self.fail(stmt, f"a formatted dlarray is passed to {name}(), a callable sct runs as it is (a "
                              "partial, a callable object): it would be given the data without its labels. Call "
                              "the function it wraps directly, or pass stripdims(x) and give the deep-learning "
                              "calls there DataFormat=...", "formatted argument")
                return None, self.checked_result(stmt, node, rewrite)     # (a partial, a callable object)
            if not numpy_call and info.kind in (CallKind.OP, CallKind.PLAIN) and \
                    not any(info.obj is f for f in NO_ARRAY_RESULTS) and (has_format(tuple(inputs)) or lost_from(inputs)):
                # copy.copy(X), dict(pairs), itertools.chain(xs), xs.extend(ys), {**d, **e}, ...: a value
                # made from formatted ones by a call not followed here may hold them, labels and all, as
                # it does outside dlfeval (was: unformatted, so a deep-learning function given it read it
                # in sct's default layout: another value, silently).  Not known: refused where it matters.
                return UNKNOWN, None
            return (LOST if losing and lost_from(inputs) else None), None
        return follow(stmt, node, info, args, kws, env, rewrite)

    def refuse_spread(self, stmt, node, info, env):
        """``f(*xs)`` / ``f(**d)`` (and what sct's normalizer makes of ``f(a, **d)``: ``f(a, *[...])``) where
        the items spread are formatted (or have lost their labels): the call's arguments are followed one by
        one, so such an item reached the function without its labels (``softmax(*xs)`` of a "CB" item
        normalised the last axis, silently).  Refused, naming the call."""
        spread = [a.value for a in node.args if isinstance(a, gast.Starred)] + \
            [k.value for k in node.keywords if k.arg is None]
        trees = [self.expr(v, env, stmt) for v in spread]
        if any(has_format(t) or lost_from([t]) for t in trees):
            name = getattr(info.obj, "__name__", None) or info.method or \
                (node.func.id if isinstance(node.func, gast.Name) else
                 node.func.attr if isinstance(node.func, gast.Attribute) else "the function")
            self.fail(stmt, f"a formatted dlarray is passed to {name}() through *args or **kwargs: sct follows "
                      "data formats argument by argument when it compiles the function, and an item spread into "
                      "a call would arrive without its labels. Pass the arguments one by one "
                      "(f(xs[0], xs[1]), f(x=d[\"x\"])), or stripdims them", "formatted argument spread")

    def refuse_function_value(self, stmt, node, info, trees, env):
        """``max(Xs, key=h)``, ``sorted(Xs, key=h)``, ``functools.reduce(h, Xs)``: a function of the user's
        given as a value runs compiled on its own, where formatted dlarrays arrive without their labels
        (fullyconnect would read X of "CB" in its default layout: another value).  Refused where formatted
        data is an argument of the call or a value the function (one this function defines) reads."""
        import types
        nested = getattr(self, "_nested_defs", None)
        if nested is None:
            nested = self._nested_defs = {n.name: n for n in walk_nodes(self.fdef)
                                          if isinstance(n, gast.FunctionDef) and n is not self.fdef}
            for n in walk_nodes(self.fdef):      # h_closure = rt.bind_closure(h, h_env, ...): h with its values
                if isinstance(n, gast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], gast.Name) and \
                        isinstance(n.value, gast.Call) and isinstance(n.value.func, gast.Attribute) and \
                        n.value.func.attr == "bind_closure" and n.value.args and \
                        isinstance(n.value.args[0], gast.Name) and n.value.args[0].id in nested:
                    nested[n.targets[0].id] = n.value
        for a in list(node.args) + [k.value for k in node.keywords]:
            if not isinstance(a, gast.Name):
                continue
            inner = nested.get(a.id)
            if inner is None:
                try:
                    target = self.resolver.resolve(a)
                except Exception:
                    continue
                if not isinstance(target, types.FunctionType) or \
                        (getattr(target, "__module__", None) or "").split(".")[0] in ("sct", "numpy"):
                    continue
                reads = []
            else:
                reads = [env.get(n.id) for n in walk_nodes(inner)
                         if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load) and n.id in env]
            if isinstance(inner, gast.Call):         # (a closure: the values it was given, and its def's reads)
                user = inner.args[0].id
                reads += [env.get(n.id) for n in walk_nodes(nested[user])
                          if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load) and n.id in env]
            else:
                user = a.id
            if any(has_format(t) or lost_from([t]) for t in list(trees) + reads):
                callee = getattr(info.obj, "__name__", None) or info.method or \
                    (node.func.id if isinstance(node.func, gast.Name) else "a function")
                how = "used as a value (not called)" if info.obj is support.bind_closure else \
                    f"passed as a value to {callee}()"
                self.fail(stmt, f"{user} is {how} where formatted dlarrays reach it: "
                          f"sct follows data formats through the calls it reads in place, and {user}() would "
                          f"run on its own, given the data without its labels. Call {user}(...) directly "
                          "(in a for loop over the items) or pass stripdims(x) and give the deep-learning "
                          "calls there DataFormat=...", "function passed as a value")

    def follower(self, info):
        """The method that follows this call (None: its result is unformatted)."""
        from .runtime.layer_types import finddim as layout_finddim
        target = info.obj
        by_kind = {CallKind.CREATE: self.create, CallKind.SITE: self.site, CallKind.STOP: None}
        if info.kind in by_kind:
            return by_kind[info.kind]
        by_target = {id(rf.dims): self.layout_constant, id(rf.finddim): self.layout_constant,
                     id(layout_finddim): self.layout_constant, id(rf.stripdims): self.strip,
                     id(support.inplace_result): self.first_argument,     # t op= v: the format of t op v
                     id(support.setitem): self.written_into, id(support.add_at): self.written_into,
                     id(support.subtract_at): self.written_into,
                     id(support.filled): self.written_into, id(support.sorted_value): self.written_into,
                     id(support.sorted_array): self.written_into,
                     id(support.into): self.written_into, id(support.into_where): self.written_into,
                     id(dlfun.maxunpool): self.first_argument,    # formatted maxpool's indices are X's own
                     id(dlfun.onehotdecode): self.decode_axis,
                     id(support.as_sequence): self.first_argument,    # for v in xs: the items of xs
                     id(list): self.sequence_copy, id(tuple): self.sequence_copy, id(reversed): self.sequence_copy,
                     id(sum): self.of_items, id(max): self.of_items, id(min): self.of_items,
                     id(iter): self.first_argument, id(next): self.next_item,
                     # a copy keeps the labels (and a list's or dict's items theirs), as outside dlfeval
                     id(copy.copy): self.copied, id(copy.deepcopy): self.copied,
                     id(support.copy_value): self.copied, id(support.deep_copy): self.copied,
                     id(support.listed): self.sequence_copy, id(support.tupled): self.sequence_copy,
                     id(support.extended): self.joined, id(support.dict_merged): self.dict_joined}
        if id(target) in by_target:
            return by_target[id(target)]
        if any(target is f for f in SAME_DIMS_FUNCTIONS):
            return self.same_dims
        if any(target is f for f in (np.concatenate, np.hstack, np.vstack, np.copy) + KEEPDIMS_REDUCTIONS) or (
                info.kind == CallKind.METHOD and info.method in LABEL_KEEPING_METHODS):
            return self.kept_labels
        if info.kind in _OP_KINDS and id(target) in LAYOUT_OPS:
            return self.lower
        if id(target) in RECURRENT_OPS and target is getattr(nn, RECURRENT_OPS[id(target)]):
            return self.lower_recurrent
        if info.kind in _OP_KINDS and id(target) in FIXED_OPS:
            return self.fixed_layout
        if target is nn.embed:
            return self.embed_layout
        if id(target) in TWO_OUTPUTS and info.kind != CallKind.METHOD:
            return self.two_outputs
        if info.kind in (CallKind.OP, CallKind.NONDIFF, CallKind.PLAIN) and (id(target) in ELEMENTWISE or (
                isinstance(target, np.ufunc) and target.signature is None)) or (
                info.kind == CallKind.FUNCTION and target is dlfun.dropout):   # (numpy code sct reads; elementwise)
            return self.elementwise
        if info.kind == CallKind.METHOD and info.method in ("items", "values", "get", "copy"):
            return self.dict_method
        if target is network.forward or target is network.predict:
            return self.lower_network
        if info.kind in (CallKind.FUNCTION, CallKind.METHOD) and info.rule is None:
            return self.into_callee
        return None

    def literal_of(self, node):
        """``node``, or the literal a name assigned once holds: a string literal or ``dims(x)`` of a followed
        ``x`` (MATLAB's ``Y = dlarray(Y, dims(X))``, ``fmt = dims(X)``; was refused as not a literal)."""
        if isinstance(node, gast.Name) and isinstance(self.constants.get(node.id), gast.Constant):
            return self.constants[node.id]
        if isinstance(node, (gast.Name, gast.Attribute)):
            # a module constant (FMT = "BC", cfg.FMT), as options take one: the resolver guards it, so
            # rebinding it compiles the code again (was refused as not a literal, red54c R4)
            found = self.resolver.resolve(node)
            if isinstance(found, str):
                return gast.copy_location(gast.Constant(value=found, kind=None), node)
        return node

    def create(self, stmt, node, info, args, kws, env, rewrite):
        """``dlarray(x, fmt)``: the literal format."""
        fmt_node = node.args[1] if len(node.args) > 1 else \
            next((k.value for k in node.keywords if k.arg == "fmt"), None)
        if fmt_node is None:
            return (args[0] if args else None), None
        fmt_node = self.literal_of(fmt_node)
        if not (isinstance(fmt_node, gast.Constant) and isinstance(fmt_node.value, str)):
            self.fail(stmt, "dlarray(x, fmt) inside dlfeval needs the format as a literal string "
                      "(the labels are followed when the function is compiled)")
        try:
            rf.check_format(fmt_node.value)
        except (TypeError, ValueError) as exc:
            self.fail(stmt, str(exc))
        return fmt_node.value, None

    def strip(self, stmt, node, info, args, kws, env, rewrite):
        """``stripdims(x)``: unformatted; ``stripdims(x, fmt)``: also a transpose into the order of ``fmt``."""
        fmt_node = node.args[1] if len(node.args) > 1 else \
            next((k.value for k in node.keywords if k.arg == "fmt"), None)
        x = args[0] if args else None
        if fmt_node is not None:
            fmt_node = self.literal_of(fmt_node)
        if fmt_node is not None and isinstance(fmt_node, gast.Constant) and (
                fmt_node.value == "" or (x is None and isinstance(fmt_node.value, str))):
            try:    # MATLAB: an empty fmt, or an unformatted X, is stripdims(X)
                rf.check_format(fmt_node.value, None, "stripdims")
            except (TypeError, ValueError) as exc:
                self.fail(stmt, str(exc))
            node.args = node.args[:1]
            node.keywords = [k for k in node.keywords if k.arg != "fmt"]
            fmt_node = None
        if fmt_node is None:
            if rewrite and isinstance(stmt, gast.Assign) and stmt.value is node and len(node.args) == 1 \
                    and not node.keywords and isinstance(node.args[0], gast.Name):
                # MATLAB's stripdims keeps the trace: X = stripdims(X); dljacobian(Y, X, 1) is with respect
                # to the input data (the dljacobian/dldivergence/dllaplacian pages).  In generated code it
                # is the identity on a plain array, so it becomes a copy, which the sites follow (was: a new
                # value, and a derivative with respect to it silently zero)
                stmt.value = node.args[0]
                return None, [stmt]
            return None, None
        if not (isinstance(fmt_node, gast.Constant) and isinstance(fmt_node.value, str)):
            self.fail(stmt, "stripdims(x, fmt) inside dlfeval needs the format as a literal string "
                      "(the labels are followed when the function is compiled)")
        if not isinstance(x, str):
            self.fail(stmt, "stripdims(x, fmt): the format of x is not known when the function is compiled "
                      "(it differs by path, or comes from a call sct does not follow)")
        try:
            rf.check_format(fmt_node.value, None, "stripdims")
            perm, missing = rf.arrange_plan(x, fmt_node.value, "stripdims")
        except (TypeError, ValueError) as exc:
            self.fail(stmt, str(exc))
        if not rewrite:
            return None, None
        new: List = []
        value = node.args[0] if node.args else next(k.value for k in node.keywords if k.arg == "X")
        if perm is not None:
            value = self.transposed(value, perm, "arranged", stmt, new)
        if missing:     # fmt's labels that x lacks: singleton dimensions (MATLAB's superset format)
            target = stmt.targets[0].id if isinstance(stmt, gast.Assign) and \
                isinstance(stmt.targets[0], gast.Name) else "x"
            name = self.namer.fresh(f"{target}_expanded")
            new.append(assign(name, call(f"{self.rt}.format_expand",
                                         [value, gast.Tuple(elts=[const(i) for i in missing], ctx=gast.Load())]),
                              stmt.lineno))
            value = load(name)
        node.args = [value]
        node.keywords = []
        return None, new + [stmt]

    def sequence_copy(self, stmt, node, info, args, kws, env, rewrite):
        """``list(xs)``, ``tuple(xs)``, ``reversed(xs)``: the items of xs (a dict: its keys)."""
        t = args[0] if len(args) == 1 and not kws else None
        if isinstance(t, dict):
            return None, None
        if isinstance(t, tuple) and info.obj is reversed:
            return tuple(reversed(t)), None
        return (t if isinstance(t, tuple) or t is None else UNKNOWN), None

    def copied(self, stmt, node, info, args, kws, env, rewrite):
        """``copy.copy(x)``, ``copy.deepcopy(x)``, ``x.copy()``: x's labels (a list's or dict's items theirs)."""
        if info.kind == CallKind.METHOD:
            if isinstance(node.func, gast.Attribute):
                return self.expr(node.func.value, env, stmt), None
            return UNKNOWN, None
        return (args[0] if len(args) == 1 and not kws else
                UNKNOWN if has_format(tuple(args)) or lost_from(args) else None), None

    def joined(self, stmt, node, info, args, kws, env, rewrite):
        """``xs.extend(ys)`` (``rt.extended(xs, ys)``): the items of both, in order, where both are known."""
        if len(args) == 2 and not kws and all(isinstance(t, tuple) for t in args):
            items = args[0] + args[1]
            return (items if any(has_format(t) for t in items) else None), None
        return (UNKNOWN if has_format(tuple(args)) or lost_from(args) else None), None

    def dict_joined(self, stmt, node, info, args, kws, env, rewrite):
        """``{**a, **b}`` and ``a.update(b)`` (``rt.dict_merged(a, b)``): b's items over a's, where b's keys
        are known (a dict written out); a formatted item of a that b may replace: not known."""
        if len(args) == 2 and not kws:
            a, b = args
            if isinstance(b, dict) and (isinstance(a, dict) or a is None):
                merged = {**(a or {}), **b}
                return (merged if has_format(merged) else None), None
            if b is None and a is None:
                return None, None
        return (UNKNOWN if has_format(tuple(args)) or lost_from(args) else None), None

    def dict_method(self, stmt, node, info, args, kws, env, rewrite):
        """``d.items()``, ``d.values()``, ``d.get(k)``, ``d.copy()`` of a dict holding formatted values."""
        d = env.get(info.receiver, self.params.get(info.receiver)) if info.receiver else None
        if not isinstance(d, dict):
            # (d.get(...) of an object that is no dict followed here: what a method returns, checked)
            return (UNKNOWN, None) if has_format(d) else (None, self.checked_result(stmt, node, rewrite))
        if info.method == "copy":
            return d, None
        if info.method == "get":
            key = node.args[0] if node.args else None
            if isinstance(key, gast.Constant) and key.value in d:
                return d[key.value], None
            return self.item_of(tuple(d.values()) + ((None,) if len(node.args) < 2 else (args[1],))), None
        values = tuple(d.values())
        return (tuple((None, t) for t in values) if info.method == "items" else values), None

    def site(self, stmt, node, info, args, kws, env, rewrite):
        name = getattr(info.obj, "__name__", None)
        if name in ("dljacobian", "dldivergence", "dllaplacian") and len(args) >= 2 and isinstance(args[1], str) \
                and "B" in args[1] and args[1].count("B") == 1:
            self.batch_axis_check(stmt, node, name, args[1])
        new = None
        if name in ("dljacobian", "dldivergence", "dllaplacian") and len(args) >= 2 and len(node.args) >= 2 and \
                isinstance(args[0], str) and isinstance(args[1], str) and args[0] and args[1] and \
                args[0] != args[1] and rf.same_labels(args[0], args[1]):
            # u labelled in another order than x (u = forward(net, X) is "BC", X "CB"; MATLAB keeps every
            # formatted dlarray in one order): u arranged into x's order, so that dim is the same axis of both
            # (was: u's axis dim read as its points, refused as "not independent" or of another size)
            new = []
            if rewrite:
                node.args[0] = self.transposed(node.args[0], rf.align_perm(args[0], args[1]), "aligned", stmt, new)
            new = new + [stmt] if new else None
        xs = args[1:]
        return (xs[0] if len(xs) == 1 else (tuple(xs) if xs else None)), new

    def batch_axis_check(self, stmt, node, name, x_fmt):
        """``dljacobian(u, x, dim)`` and its siblings: sct's ``dim`` is the axis along which points are
        independent (the batch axis, SPEC); MATLAB's ``dim`` names the operation dimension (the
        components summed or differentiated, e.g. ``dldivergence(Y, X, 1)`` of a "CB" X).  For an x
        labelled with a "B" dimension, a literal ``dim`` on another of its labels is that MATLAB
        reading, which would give silently another result: refused, naming the axis to pass."""
        dim_node = node.args[2] if len(node.args) > 2 else next((k.value for k in node.keywords if k.arg == "dim"),
                                                                None)
        dim = self.literal_int(dim_node)
        if isinstance(dim_node, gast.Name) and dim_node.id in self.constants:
            dim = self.literal_int(self.constants[dim_node.id])
        if type(dim) is not int or not -len(x_fmt) <= dim < len(x_fmt):
            return
        batch = x_fmt.index("B")
        if dim % len(x_fmt) != batch:
            self.fail(stmt, f"{name}(u, x, {dim}): x is labelled \"{x_fmt}\", and axis {dim} is its "
                      f"\"{x_fmt[dim]}\" dimension, but sct's dim is the axis along which points are independent "
                      f"(the batch axis: {batch}, x's \"B\"), not MATLAB's operation dimension; pass "
                      f"{name}(u, x, {batch})", construct=f"{name}(..., dim)")

    def kept_labels(self, stmt, node, info, args, kws, env, rewrite):
        """MATLAB's cat of arrays of one format along a dimension keeps it (``np.concatenate``); its
        reductions keep it, the reduced dimensions singletons (``np.sum(x, axis, keepdims=True)``; without
        keepdims the dimensions left keep their labels: ``rf.reduced_format``; the methods too); so do casts
        and copies (``x.astype``, ``x.copy()``, ``np.copy``).  Otherwise unformatted."""
        def literal(v):
            """The value of a literal (an int, a tuple of ints, True/False/None), else the marker ``literal``."""
            if isinstance(v, gast.Name) and v.id in self.constants:
                v = self.constants[v.id]
            if isinstance(v, gast.Constant):
                return v.value
            if isinstance(v, (gast.Tuple, gast.List)):
                items = tuple(self.literal_int(e) for e in v.elts)
                return literal if any(i is None or i is False for i in items) else items
            i = self.literal_int(v)
            return literal if i is False or i is None else i

        def reduced(x, axis_node, positional):
            # (the other keywords leave the shape as axis and keepdims make it: labelled as outside dlfeval)
            if positional or set(kws) - {"axis", "keepdims", "dtype", "ddof", "correction", "where", "initial"} or \
                    not isinstance(x, (str, _Unknown)):
                return None
            keep = next((k.value for k in node.keywords if k.arg == "keepdims"), None)
            keep = False if keep is None else literal(keep)
            axis = None if axis_node is None else literal(axis_node)
            if keep is True and isinstance(x, str):
                return x                # keepdims=True: every dimension kept, in its place, whatever the axis
            if keep is literal or axis is literal:
                # dimensions not known when the function is compiled: which labels are left is not known
                # (it was taken as unformatted, which a deep-learning function then read in sct's layout)
                return UNKNOWN
            if axis is None and keep is False:
                return None             # (a reduction over every dimension: a scalar, unformatted)
            if isinstance(x, _Unknown):
                return UNKNOWN
            return rf.reduced_format(x, axis, keep) or None

        def keyword(name):
            return next((k.value for k in node.keywords if k.arg == name), None)
        if info.kind == CallKind.METHOD:
            x = env.get(info.receiver, self.params.get(info.receiver)) if info.receiver else None
            if isinstance(x, (dict, tuple)) and info.method == "copy":
                return self.dict_method(stmt, node, info, args, kws, env, rewrite)
            if info.method in ("astype", "copy"):
                return (x if isinstance(x, (str, _Unknown)) else None), None
            axis = node.args[0] if node.args else keyword("axis")
            return reduced(x, axis, len(node.args) > 1), None
        first = args[0] if args else None
        if info.obj in (np.concatenate, np.hstack, np.vstack):
            axis = keyword("axis") if len(node.args) < 2 else node.args[1]
            if info.obj is np.concatenate and isinstance(axis, gast.Constant) and axis.value is None or \
                    not isinstance(first, tuple):
                # (flattened, axis=None: the labels lost, as outside dlfeval)
                return (UNKNOWN if isinstance(first, _Unknown) else LOST if lost_from([first]) else None), None
            if any(isinstance(t, _Unknown) for t in first):
                return UNKNOWN, None
            fmts = set(first)
            fmt = fmts.pop() if len(fmts) == 1 and isinstance(next(iter(fmts)), str) else None
            # (np.vstack of 1-D arrays stacks them: a new dimension, unformatted)
            out = None if info.obj is np.vstack and fmt is not None and len(fmt) < 2 else fmt
            # items of different formats (or one formatted and one not): labels lost, as outside dlfeval
            # (was unformatted: softmax(np.concatenate([X_CBT, Y_BCT])) read it in the default layout)
            return (LOST if out is None and lost_from(first) else out), None
        if info.obj is np.copy:
            return (first if isinstance(first, (str, _Unknown)) else None), None
        axis = node.args[1] if len(node.args) > 1 else keyword("axis")
        return reduced(first, axis, len(node.args) > 2), None

    def same_dims(self, stmt, node, info, args, kws, env, rewrite):
        """``np.flip``, ``np.fliplr``, ``np.flipud``, ``np.roll`` (any axis, or none): the dimensions of the
        array in the same order, so its labels (MATLAB's flip and circshift keep the format), LOST where it
        was lost, as outside dlfeval (``runtime.dlarray._kept_format``)."""
        from .runtime.labels import LABEL_KEEPING_ARGUMENT
        x = args[0] if args else kws.get(LABEL_KEEPING_ARGUMENT[info.obj.__name__])
        return (x if isinstance(x, (str, _Unknown, _Lost)) else None), None

    def of_items(self, stmt, node, info, args, kws, env, rewrite):
        """``sum(xs)`` (0 + xs[0] + ...: the items combined as by +) and ``max``/``min`` of a list or of several
        arguments (one of the items: their one format, UNKNOWN where they differ), as outside dlfeval."""
        items = args[0] if len(args) == 1 and isinstance(args[0], tuple) else tuple(args) if len(args) > 1 else None
        if items is None:
            return (UNKNOWN if args and isinstance(args[0], _Unknown) else None), None
        if info.obj is sum:
            return self.combine(list(items), stmt), None
        return self.item_of(items), None

    def next_item(self, stmt, node, info, args, kws, env, rewrite):
        """``next(it)`` (``next(iter(xs))``): one of the items of the sequence (their one format, or the formats
        it may have), or the default."""
        if not args:
            return None, None
        item = self.item_of(args[0]) if isinstance(args[0], (tuple, _Unknown)) else None
        return (merge(item, args[1]) if len(args) > 1 else item), None

    def written_into(self, stmt, node, info, args, kws, env, rewrite):
        """``z[i] = v``, ``np.add.at(z, ...)``, ``z.fill(c)``, ``z.sort()``, ``np.copyto(z, v)`` and ``out=z`` (as
        sct.aliasing writes them: ``rt.setitem(z, i, v)``, ...; ``rt.into(v, z)``, ``rt.into_where(v, z, m)`` for
        ``np.copyto(z, v, where=m)``, was: unformatted, refused by a deep-learning function): the array written into keeps
        its labels, as the dlarray does outside dlfeval (MATLAB's X(i) = v keeps X's format); an unformatted
        one given formatted values has lost them (``LOST``); a list or dict written into: not known here."""
        t = args[1 if info.obj is support.into or info.obj is support.into_where else 0] if args else None
        if getattr(node, "sct_into_argument", False) and len(args) == 3:
            self._through_format(stmt, node, args[2])
        if isinstance(t, (str, _Lost)):
            return t, None
        if isinstance(t, dict) and info.obj is support.setitem and len(node.args) == 3 and \
                isinstance(node.args[1], gast.Constant):
            return {**t, node.args[1].value: args[2]}, None         # d["k"] = v: that item's tree is v's
        if t is None and info.obj is support.setitem and len(node.args) == 3 and \
                isinstance(node.args[1], gast.Constant) and isinstance(node.args[1].value, str):
            return ({node.args[1].value: args[2]} if has_format(args[2]) else None), None   # a dict with none
        if isinstance(t, (tuple, dict, _Unknown)):
            return (UNKNOWN if lost_from(args) or isinstance(t, _Unknown) else None), None
        return (LOST if lost_from(args) else None), None

    def _through_format(self, stmt, node, value) -> None:
        """The labels of a value written into a dict dlfeval was given (``state["h"] = Y``: the caller's dict
        gets the dlarray Python stores, rt.setitem_through); refused where they are not known here."""
        if not has_format(value):
            return
        if not isinstance(value, str):
            self.fail(stmt, "the data format of the value written into an item of a dict the function was given "
                      "is not known when the function is compiled (it differs by path, or comes from a call sct "
                      "does not follow), and the caller's dict gets that dlarray; write stripdims(value) or a "
                      "value of one format")
        node.sct_through_format = value

    def first_argument(self, stmt, node, info, args, kws, env, rewrite):
        return (args[0] if args else None), None

    def decode_axis(self, stmt, node, info, args, kws, env, rewrite):
        """``onehotdecode(B, classes)`` of a formatted B: decoded along its "C" axis, passed on as
        ``axis=`` (the labels are not there when the function runs: the last axis was read, another
        axis's argmax, silently where the sizes allowed).  The labels are unformatted."""
        x = args[0] if args else None
        if len(node.args) > 2 or any(k.arg == "axis" for k in node.keywords) or not has_format(x):
            return None, None
        if not isinstance(x, str):
            self.fail(stmt, "onehotdecode: the format of its input is not known when the function is compiled (it "
                      "differs by path, or comes from a call sct does not follow): give the axis of the classes")
        if "C" in x:
            node.keywords.append(gast.keyword(arg="axis", value=const(x.index("C"))))
        return None, None

    def layout_constant(self, stmt, node, info, args, kws, env, rewrite):
        """``dims(x)`` and ``finddim(x, label)`` of a followed x: constants."""
        from .runtime.layer_types import finddim as layout_finddim
        target = info.obj
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
        target_name = stmt.targets[0] if isinstance(stmt, gast.Assign) else None
        if isinstance(target_name, gast.Name) and self.stored.get(target_name.id) == 1:
            self.constants[target_name.id] = value      # np.mean(X, axis=tuple(finddim(X, "S"))) reads it
        return None, None

    def fixed_layout(self, stmt, node, info, args, kws, env, rewrite):
        """A function laid out one way (``sct.runtime.formats.FIXED_LAYOUT``): its input in that layout."""
        name = FIXED_OPS[id(info.obj)]
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

    def embed_layout(self, stmt, node, info, args, kws, env, rewrite):
        """``embed`` of formatted indices (MATLAB's "BC", "BT", "CBT"): their labels passed on as ``DataFormat=``
        (the run lays the indices out by them), the result labelled with "C" where X has it, else in front
        (``sct.runtime.nn.embed_format``; was refused: "embed does not read data formats yet", red team mat51)."""
        x = args[0] if args else kws.get("X")
        given = next((k.value for k in node.keywords if k.arg == "DataFormat"), None)
        made = getattr(node, "_sct_embed_format", None)
        if made is not None:            # (the labels this pass gave it, read again)
            return nn.embed_format(made), None
        if given is not None:
            if not (isinstance(given, gast.Constant) and (given.value is None or isinstance(given.value, str))):
                self.fail(stmt, "embed: DataFormat inside dlfeval must be a literal string")
            if given.value is not None and isinstance(x, str):
                self.fail(stmt, f"embed: DataFormat is for unformatted input; X is labelled {x!r}")
            return None, None
        if isinstance(x, _Lost):
            self.fail(stmt, lost_message("embed"))
        if isinstance(x, _Unknown):
            self.fail(stmt, "embed: the format of X is not known when the function is compiled (it differs by path, "
                      "or comes from a call sct does not follow): give DataFormat= on stripdims(X)")
        if not isinstance(x, str) or not x:
            return None, None
        if "C" in x and x.count("C") > 1:
            self.fail(stmt, f"embed: X is labelled {x!r}, with more than one 'C' dimension")
        if rewrite:
            node.keywords = list(node.keywords) + [gast.keyword(arg="DataFormat", value=const(x))]
            node._sct_embed_format = x
        return nn.embed_format(x), None

    def two_outputs(self, stmt, node, info, args, kws, env, rewrite):
        """``divmod(x, y)``, ``np.modf(x)``, ...: two elementwise results, each with the operands' format."""
        tree = self.combine(args + list(kws.values()), stmt)
        return ((tree, tree) if tree is not None else None), None

    def elementwise(self, stmt, node, info, args, kws, env, rewrite):
        if len(node.args) < 2 or kws and any(has_format(t) for t in kws.values()):
            return self.combine(args + list(kws.values()), stmt), None
        return self.aligned(stmt, node, [("args", i) for i in range(len(node.args))], env, rewrite)

    def into_callee(self, stmt, node, info, args, kws, env, rewrite):
        """A function sct transforms: formatted arguments are refused (formats are followed in one function)."""
        target = info.obj
        receiver = [env.get(info.receiver, self.params.get(info.receiver))] if info.receiver else []
        if any(has_format(t) for t in args + list(kws.values()) + receiver):
            # (a C function sct reads through its Python equivalent, itertools.chain: named as the user calls it)
            equivalent = any(target is f for f in registry.EQUIVALENTS.values())
            name = (dotted_name(node.func) if equivalent else None) or getattr(target, "__name__", None) or info.method or \
                (re.sub(r"_closure(_\d+)?$", "", node.func.id) if isinstance(node.func, gast.Name)
                 else "the function")        # (a nested def's closure: the def's own name)
            self.fail(stmt, f"a formatted dlarray is passed to {name}(): sct follows data formats through "
                      "the function dlfeval runs, not yet into the functions it calls. Pass stripdims(x) "
                      "and give the deep-learning calls there DataFormat=..., or make the calls in this "
                      "function", "formatted argument")
        return None, self.checked_result(stmt, node, rewrite)

    def checked_result(self, stmt, node, rewrite):
        """The statements of ``name = f(...)`` of a function sct does not read in place here (another
        module's, a method, a lambda or a partial bound outside): its result is taken as unformatted, so
        a formatted dlarray it returns is refused when the function runs (``rt.unformatted_result``): it
        would meet the plain arrays of the function's formatted values unaligned (``X - T`` of a "CB"
        argument and a "BC" result: another value)."""
        if not rewrite or not isinstance(stmt, gast.Assign) or stmt.value is not node:
            return None
        names = [n.id for n in walk_nodes(stmt.targets[0]) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)]
        if not names:
            return None
        func = node.func
        what = func.id if isinstance(func, gast.Name) else func.attr if isinstance(func, gast.Attribute) else "the call"
        check = gast.Expr(value=call(f"{self.rt}.unformatted_result", [const(what)] + [load(n) for n in names]))
        gast.copy_location(check, stmt)
        return [stmt, check]

    # --- networks -------------------------------------------------------------------------------
    def lower_network(self, stmt, node, info, args, kws, env, rewrite):
        """``forward(net, X)`` / ``predict(net, X)`` with formatted inputs: each input transposed into the
        layout of the network's input layer before the call; the outputs' formats follow from the layers
        (the network's structure is part of its kind, so another structure compiles anew)."""
        fname = info.obj.__name__
        xs = args[1:]
        if not any(has_format(t) for t in xs + list(kws.values())):
            return None, None
        if any(has_format(t) for k, t in kws.items() if k != "_given_value"):   # (sct/network_outputs.py)
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
        pair = nargout.value == 2 if nargout is not None else fname == "forward"      # (Y, state)
        tree = (value, None) if pair else value
        checks: List = []
        if network.format_checked(graph[2]) and value is not None and isinstance(stmt, gast.Assign) and \
                len(stmt.targets) == 1 and isinstance(stmt.targets[0], gast.Name):
            # a custom layer's output labelled with its input's format: its rank checked when it runs
            checks.append(gast.Expr(value=call(f"{self.rt}.formats_fit",
                                               [load(stmt.targets[0].id), _literal_tree(tree), const(fname)])))
            for c in checks:
                gast.copy_location(c, stmt)
        if not rewrite or not (checks or any(p is not None for p in perms)):
            return tree, None
        new: List = []
        for j, perm in enumerate(perms):
            if perm is not None:
                node.args[j + 1] = self.transposed(node.args[j + 1], perm, "arranged", stmt, new)
        return tree, new + [stmt] + checks



def _literal_tree(tree):
    """A format tree (a str, None, or tuples of them) as an expression."""
    if isinstance(tree, (tuple, list)):
        return gast.Tuple(elts=[_literal_tree(t) for t in tree], ctx=gast.Load())
    return const(tree)


# the options of the deep-learning functions that the lowering reads by keyword (from the first of them
# in the signature on, the arguments given by position are passed by keyword: _options_by_keyword)
POSITIONAL_OPTIONS = frozenset({"axis", "Mask", "PaddingMask", "Reduction", "reduction", "NormalizationFactor",
                                "ClassificationMode", "TargetCategories", "OperationDimension", "nargout",
                                "PoolFormat", "WeightsFormat", "OutputMode", "DataFormat"})


def _options_by_keyword(fdef, resolver) -> None:
    """A deep-learning function's options given by position (``softmax(Y, -1, "CB")``, ``l2loss(Y, T, None,
    None, "none", "batch-size", "CB")``, a partial's frozen ``DataFormat`` laid out by position) passed by
    keyword, as Python binds them: the lowering reads ``DataFormat``, ``Reduction``, ``Mask``... by keyword
    (a positional DataFormat was not seen: the default-layout rule's gradient along the wrong axis, or
    none; a positional Reduction "none" left the result in the default layout)."""
    import inspect
    for node in walk_nodes(fdef):
        if not isinstance(node, gast.Call) or not node.args or any(isinstance(a, gast.Starred) for a in node.args):
            continue
        target = resolver.resolve(node.func)
        if id(target) not in LAYOUT_OPS and id(target) not in RECURRENT_OPS:
            continue
        try:
            names = list(inspect.signature(target).parameters)
        except (TypeError, ValueError):
            continue
        first = next((i for i, n in enumerate(names) if n in POSITIONAL_OPTIONS), None)
        given = {k.arg for k in node.keywords}
        if first is None or len(node.args) <= first or len(node.args) > len(names) or \
                given & set(names[first:len(node.args)]):
            continue            # (Python's TypeError, from the call as written)
        node.keywords[:0] = [gast.keyword(arg=names[i], value=a) for i, a in enumerate(node.args) if i >= first]
        del node.args[first:]


def follow_formats(fdef, resolver, param_kinds, filename, namer, rt_name, mode):
    """Run the pass on ``fdef`` (rewriting it); the formats of its result (None: unformatted)."""
    from .outside_formats import check_outside_reads
    _options_by_keyword(fdef, resolver)
    with shared_walks(fdef):        # (its scans and whether it is needed read the tree: one walk)
        formats = FormatPass(fdef, resolver, param_kinds, filename, namer, rt_name, mode)
        needed = formats.needed()
    out = formats.rewrite() if needed else None
    # a formatted dlarray reached through an outside object it cannot follow: refused when it runs
    followed = dict(formats.followed) if needed else {}
    check_outside_reads(fdef, resolver, param_kinds, rt_name, followed)        # sct/outside_formats.py
    return out
