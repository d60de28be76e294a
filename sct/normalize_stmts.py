"""Normalization of statements: each statement of the user's becomes statements of the core
language (see ``sct.normalize``), dispatched by its type; assignments (to names, items,
attributes, tuples; augmented and annotated) store one atom each.  A mixin of
``sct.normalize.Normalizer`` (it reads the shared state there: ``namer``, ``line``, ``rt_name``,
and calls ``emit``, ``block``, ``atom``, ``simple``, ``index``, ``fail`` and the loops' methods)."""
from __future__ import annotations

import copy
import functools
import itertools
from typing import List, Optional

import gast

from .errors import CompileError
from .ir import assign, call, const, load, walk_no_defs, walk_nodes
from .normalize_exprs import BINOP_NAMES

# each unpacking's number, marked on the reads it is lowered to (``sct_unpack``: count, position,
# starred, this number), which sct/unpack_objects.py rewrites where the value is an object
_UNPACKINGS = itertools.count()


class Statements:
    """Statements and assignments."""

    # the method that lowers each kind of statement (any other is refused)
    STATEMENTS = {
        gast.Assign: "assign_stmt", gast.AugAssign: "aug_assign", gast.AnnAssign: "ann_assign",
        gast.Expr: "expr_stmt", gast.If: "if_stmt", gast.For: "for_loop", gast.While: "while_loop",
        gast.Return: "return_stmt", gast.Pass: "pass_stmt", gast.Break: "jump_stmt",
        gast.Continue: "jump_stmt", gast.With: "with_stmt", gast.Delete: "delete_stmt",
        gast.FunctionDef: "def_stmt", gast.Import: "kept_stmt", gast.ImportFrom: "kept_stmt",
        gast.Assert: "assert_stmt", gast.Raise: "kept_stmt",
    }

    def stmt(self, s, out: List):
        handler = self.STATEMENTS.get(type(s))
        if handler is None:
            self.fail(s, type(s).__name__, "rewrite it with assignments, if, for and while")
        getattr(self, handler)(s, out)

    def assign_stmt(self, s: gast.Assign, out: List):
        value = s.value
        if len(s.targets) == 1 and isinstance(s.targets[0], gast.Name):
            self.assign_to(s.targets[0].id, value, out)
            return
        target0 = s.targets[0]
        if len(s.targets) == 1 and isinstance(target0, (gast.Tuple, gast.List)) and \
                isinstance(value, (gast.Tuple, gast.List)) and len(target0.elts) == len(value.elts) and \
                not any(isinstance(e, gast.Starred) for e in target0.elts + value.elts):
            self.unpack_pairwise(target0, value, out)
            return
        if len(s.targets) == 1 and isinstance(target0, (gast.Tuple, gast.List)):
            # (one target only: ``p = a, b = zip(...)`` leaves p the iterator, exhausted, or the live
            # view, not a list of their items)
            value = self.iterated(value, out)
            self.ask_outputs(value, target0)
            if isinstance(value, gast.Call):        # (read by sct/normalize_exprs.py call_expr, the next call it makes)
                self._pending_unpacking = (len(target0.elts), any(isinstance(e, gast.Starred) for e in target0.elts))
        tmp = self.atom(value, out, hint=self.hint_of(s.targets[0]))
        self.__dict__.pop("_pending_unpacking", None)
        for target in s.targets:
            self.store_into(target, tmp, out)

    def ask_outputs(self, value, target) -> None:
        """``Y, mu, sigmaSq = batchnorm(...)``: MATLAB's count of outputs asked for, given as
        ``nargout=3`` to the sct functions whose outputs depend on it (``sct_asked_outputs``), as
        they find it themselves run outside sct (runtime.dlfun ``_asked_outputs``: the caller's
        unpacking, which the generated code does not do)."""
        if not isinstance(value, gast.Call) or any(k.arg in (None, "nargout") for k in value.keywords) or \
                any(isinstance(e, gast.Starred) for e in target.elts):
            return
        counts = getattr(self.called_object(value.func), "sct_asked_outputs", None)
        if isinstance(counts, tuple) and len(target.elts) in counts:
            value.keywords = list(value.keywords) + [gast.keyword(arg="nargout", value=const(len(target.elts)))]

    # Python unpacks ``a, b = value`` by iterating ``value``; the lowering reads it by position.  A
    # view or an iterator built by these (``d.values()``, ``zip(...)``) has no positions: its items
    # are listed first, as Python's iteration gives them (was: "'dict_values' object is not
    # subscriptable" for ``w, b = params.values()``)
    _VIEW_METHODS = frozenset({"values", "items", "keys"})
    _ITERATOR_BUILTINS = frozenset({"zip", "map", "filter", "enumerate", "iter"})

    def iterated(self, value, out: List):
        """``value`` of an unpacking, as a list where it is a dict view or a builtin iterator."""
        if not isinstance(value, gast.Call) or value.keywords and not (
                isinstance(value.func, gast.Name) and value.func.id == "enumerate"):
            return value
        func = value.func
        # list(...) where ``list`` is Python's (list(zip(...)) and list(enumerate(...)) are followed by
        # that name); else the runtime's list of the items, as ``[*value]`` (was: refused where the user's
        # module or function binds ``list``, though Python's unpacking never reads it)
        builtin_list = self.is_builtin("list")
        listed = "list" if builtin_list else f"{self.rt_name}.listed"
        if isinstance(func, gast.Attribute) and func.attr in self._VIEW_METHODS and not value.args:
            return call(listed, [value])
        if isinstance(func, gast.Name) and self.is_builtin(func.id):
            if func.id in self._ITERATOR_BUILTINS:
                return call(listed, [value]) if builtin_list else value
            if func.id == "reversed" and len(value.args) == 1 and not isinstance(value.args[0], gast.Starred):
                # (rt.reversible: Python's TypeError for what reversed() refuses, a set or an iterator,
                # and a refusal for a class with its own __reversed__, which list(x)[::-1] would not
                # call; was: a set listed in reverse, a custom __reversed__ ignored)
                seq = self.atom(value.args[0], out, hint="seq")
                checked = call(f"{self.rt_name}.after_check", [seq, call(f"{self.rt_name}.reversible", [seq])])
                return gast.Subscript(value=call(listed, [checked]),
                                      slice=gast.Slice(lower=None, upper=None, step=const(-1)), ctx=gast.Load())
        return value

    def unpack_pairwise(self, target, value, out: List):
        """``a, b = e1, e2``: every value first (``a, b = b, a`` swaps), then each target, with no
        tuple in between (so each name holds its own item, for the aliasing analysis)."""
        items = []
        for t, e in zip(target.elts, value.elts):
            item = self.atom(e, out, hint=self.hint_of(t))
            if isinstance(e, gast.Name) and isinstance(item, gast.Name):
                fresh = self.namer.fresh(self.hint_of(t))
                self.emit(out, assign(fresh, item))
                item = load(fresh)
            items.append(item)
        for t, item in zip(target.elts, items):
            self.store_into(t, item, out)

    def aug_assign(self, s: gast.AugAssign, out: List):
        # ``t += v`` changes an array (list, dict) t holds in place, and rebinds a number:
        # the statement computing the new value is marked (``sct_augmented``) with the
        # name of the old value, for the aliasing analysis (sct.aliasing.check_augmented)
        # ``rt.inplace_result(new, old)`` keeps an array's dtype and shape (numpy changes it
        # in place); a number, tuple or list is the new value itself
        target = s.target
        if isinstance(target, gast.Name):
            right = s.value
            if isinstance(s.op, gast.Add) and isinstance(right, gast.Tuple):
                # ``xs += (a, b)`` of a list xs: a list extends by any iterable (``xs + (a, b)``
                # raises TypeError); rt.concat_operand makes the tuple a list there
                right = call(f"{self.rt_name}.concat_operand", [self.as_load(target), right])
            current = gast.BinOp(left=self.as_load(target), op=s.op, right=right)
            tmp = self.namer.fresh(target.id + "_" + BINOP_NAMES.get(type(s.op), "op"))
            self.assign_to(tmp, current, out)
            if out and isinstance(out[-1], gast.Assign):
                out[-1].sct_augmented = (target.id, None)
            self.emit(out, assign(target.id, call(f"{self.rt_name}.inplace_result",
                                                  [load(tmp), load(target.id)])))
        elif isinstance(target, (gast.Subscript, gast.Attribute)):
            self.aug_assign_part(s, out)
        else:
            self.fail(target, "this assignment target", "assign to a name, an item or an attribute")

    def aug_assign_part(self, s: gast.AugAssign, out: List):
        """``t[i] += v`` / ``o.a += v``: the container and the index are evaluated once, as in Python."""
        target = s.target
        hint = self.hint_of(target)
        obj = self.atom(self.as_load(target.value), out, hint=hint)
        if isinstance(target, gast.Subscript):
            index = self.index(target.slice, out)
            old = gast.Subscript(value=obj, slice=index, ctx=gast.Load())
            new_target = gast.Subscript(value=obj, slice=copy.deepcopy(index), ctx=gast.Store())
        else:
            old = gast.Attribute(value=obj, attr=target.attr, ctx=gast.Load())
            new_target = gast.Attribute(value=obj, attr=target.attr, ctx=gast.Store())
        old_name = self.atom(old, out, hint=hint)
        tmp = self.namer.fresh(hint + "_" + BINOP_NAMES.get(type(s.op), "op"))
        self.assign_to(tmp, gast.BinOp(left=old_name, op=s.op, right=s.value), out)
        if out and isinstance(out[-1], gast.Assign):
            out[-1].sct_augmented = (getattr(old_name, "id", None),
                                     getattr(obj, "id", None))
        new_value = self.namer.fresh(hint + "_" + BINOP_NAMES.get(type(s.op), "op"))
        self.emit(out, assign(new_value, call(f"{self.rt_name}.inplace_result", [load(tmp), old_name])))
        self.emit(out, gast.Assign(targets=[new_target], value=load(new_value), type_comment=None))

    def ann_assign(self, s: gast.AnnAssign, out: List):
        if s.value is not None:
            self.stmt(gast.Assign(targets=[s.target], value=s.value, type_comment=None), out)

    def expr_stmt(self, s: gast.Expr, out: List):
        if isinstance(s.value, gast.Constant):
            return
        value = self.simple(s.value, out, hint="out")
        self.emit(out, gast.Expr(value=value))

    def if_stmt(self, s: gast.If, out: List):
        test = self.atom(s.test, out, hint="cond")
        node = gast.If(test=test, body=[], orelse=[])
        self.emit(out, node)
        self.block(s.body, node.body)
        self.block(s.orelse, node.orelse)

    def assert_stmt(self, s: gast.Assert, out: List):
        # the test computed first, as any other expression, so the later passes see its calls (was: kept as
        # written, where the format pass never saw them: `assert np.allclose(np.sum(softmax(X), 0), 1)` of
        # "CB" data raised inside dlfeval, softmax read in the default layout); the message, computed only
        # when the test fails, is kept as written
        test = self.atom(s.test, out, hint="asserted")
        self.emit(out, gast.Assert(test=test, msg=s.msg))

    def return_stmt(self, s: gast.Return, out: List):
        value = const(None) if s.value is None else self.atom(s.value, out, hint="out")
        self.emit(out, gast.Return(value=value))

    def pass_stmt(self, s, out: List):
        return

    def jump_stmt(self, s, out: List):
        self.emit(out, type(s)())

    def with_stmt(self, s: gast.With, out: List):
        for item in s.items:
            # `with nullcontext(x * 2) as u:` / `with Ctx(x) as u:`: u is what __enter__ gives, which sct does not
            # follow (it was taken as a constant: a derivative through u silently zero). Refused where the
            # context expression reads a traced value of the function (``check_entered_values``, once activity
            # is known: ``with open(path) as fh`` of a path argument runs; a module's context manager too)
            # The name itself holding a traced value (``with m as s: s.v = x * 2`` where __enter__ returns m,
            # or a module's manager): s may be a second name of what the expression holds, which sct does not
            # follow either (m.v read as a constant: a partial derivative), so refused too (check_entered_values)
            if item.optional_vars is not None:
                reads = any(isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load) and self.local_root(n)
                            for n in walk_nodes(item.context_expr))
                item.sct_entered_check = (self.fdef.name, getattr(item.context_expr, "lineno", None) or self.line,
                                          reads)
                self.fdef.sct_entered_checks = True
            func = item.context_expr.func if isinstance(item.context_expr, gast.Call) else None
            if (isinstance(func, gast.Name) and func.id == "suppress") or \
                    (isinstance(func, gast.Attribute) and func.attr == "suppress"):
                # (an exception suppressed part way left the recorded values short: 'IndexError while computing
                # the gradient: pop from empty list', or the adjoint of statements that never ran)
                self.fail(item.context_expr, "contextlib.suppress(...)", "sct differentiates a with block whose "
                          "body runs to its end; write the block as try/except (which sct follows)")
        # A context manager whose __exit__ returns true suppresses an exception of the body: the code
        # after the with runs with the body cut short, while the adjoint runs every statement's
        # (a silent wrong gradient where those statements recorded nothing, ``z = y * 3`` after a
        # raise, or 'pop from empty list').  A flag set where the body ends tells, and
        # ``rt.with_body_completed`` refuses the run where it is not set after the block.
        # (not in sct's own generated code, differentiated again by sct.hvp or a transposed jvp: its with
        # block carries the user's check already; a second one named the generated file and line)
        checked = not all(_never_suppresses(item.context_expr) for item in s.items) and \
            not str(self.filename).startswith("<sct-generated")
        if checked:
            done = self.namer.fresh("with_done")
            self.emit(out, assign(done, const(False), s.lineno))
        # ``with cm as k:`` binds k as the block is entered: written ``with cm as k_entered: k = k_entered``, an
        # assignment like any other, so the code a gradient replays keeps each k of a loop (was: k bound by the
        # with statement alone was not recorded, the adjoint of every pass read the last pass's k: a wrong
        # gradient, ``for i in range(3): with Scale(i) as k: acc = acc + x[i] * k``)
        entered: List = []
        for item in s.items:
            if item.optional_vars is not None:
                fresh = self.namer.fresh("entered")
                item.sct_entered_targets = [n.id for n in walk_nodes(item.optional_vars)
                                            if isinstance(n, gast.Name) and not isinstance(n.ctx, gast.Load)]
                binding = gast.Assign(targets=[item.optional_vars], value=load(fresh), type_comment=None)
                gast.copy_location(binding, s)
                entered.append(binding)
                item.optional_vars = gast.Name(id=fresh, ctx=gast.Store(), annotation=None, type_comment=None)
        node = gast.With(items=s.items, body=[], type_comment=None)
        self.emit(out, node)         # the body runs once, inside the context
        self.block(entered + s.body, node.body)
        if checked:
            node.body.append(assign(done, const(True), s.lineno))
            self.emit(out, gast.Expr(value=call(f"{self.rt_name}.with_body_completed",
                                                [load(done), const(self.filename), const(s.lineno)])))
        if not node.body:
            node.body.append(gast.Pass())

    def delete_stmt(self, s: gast.Delete, out: List):
        if not all(isinstance(t, gast.Name) for t in s.targets):
            self.fail(s, "del of an item or attribute", "build a new value without it")
        return                       # unbinding a name changes no value: nothing to do

    def def_stmt(self, s: gast.FunctionDef, out: List):
        # ``@dec def h(...)``: ``h = dec(h)`` after the def, as Python applies it (each decorator
        # computed first, in order, into a name of its own; applied from the innermost out), so
        # that h names the decorated function for the closure conversion too (was: the decorator
        # kept on the def, whose captured values the conversion then passed first to what the
        # decorator returned: a TypeError, or the wrong argument given to the user's code)
        decorators = [self.default_atom(s, d, out) for d in s.decorator_list]
        s.decorator_list = []
        self.nested_defaults(s, out)
        self.emit(out, s)            # a nested helper: compiled on its own when it is called
        for d in reversed(decorators):
            self.assign_to(s.name, gast.Call(func=d, args=[load(s.name)], keywords=[]), out)

    def kept_stmt(self, s, out: List):
        self.emit(out, s)            # import, assert, raise: kept as written (no derivative flows through them)

    # --- assignments ------------------------------------------------------------------------
    def hint_of(self, target) -> str:
        if isinstance(target, gast.Name):
            return target.id
        if isinstance(target, (gast.Subscript, gast.Attribute)):
            return self.hint_of(target.value)
        if isinstance(target, (gast.Tuple, gast.List)) and target.elts:
            return self.hint_of(target.elts[0])
        return "t"

    def as_load(self, target):
        if isinstance(target, gast.Name):
            return load(target.id)
        if isinstance(target, gast.Subscript):
            return gast.Subscript(value=self.as_load(target.value), slice=target.slice, ctx=gast.Load())
        if isinstance(target, gast.Attribute):
            return gast.Attribute(value=self.as_load(target.value), attr=target.attr, ctx=gast.Load())
        if isinstance(target, gast.Call):
            # d.setdefault(k, {})[j] = v, make()[0] = v: the call, evaluated once, before the index
            # (as Python does); the item written into what it returned (was refused: "this
            # assignment target")
            return target
        self.fail(target, "this assignment target", "assign to a name, an item or an attribute")

    def assign_to(self, name: str, value, out: List, hint: Optional[str] = None):
        hint = hint or name
        if isinstance(value, gast.IfExp):
            test = self.atom(value.test, out, hint="cond")
            node = gast.If(test=test, body=[], orelse=[])
            self.emit(out, node)
            self.assign_to(name, value.body, node.body, hint)
            self.assign_to(name, value.orelse, node.orelse, hint)
            return
        if isinstance(value, gast.BoolOp):
            self.bool_op(name, value, out)
            return
        if isinstance(value, gast.DictComp):
            self.dict_comp(name, value, out)
            return
        if isinstance(value, (gast.ListComp, gast.GeneratorExp)):   # a generator becomes a list
            self.list_comp(name, value, out)
            return
        if isinstance(value, gast.Lambda):   # f = lambda ...: the def f (what a call of f reads)
            self.emit(out, self.lambda_def(name, value, out))
            return
        if isinstance(value, gast.Call) and self.partials is not None and \
                self.partials.resolve(value.func, self.local_root) is functools.partial and \
                any(isinstance(n, gast.Attribute) and isinstance(n.value, gast.Name) and n.value.id == name
                    for n in walk_nodes(self.fdef)):
            # f = partial(g, ...) where the code reads f.func, f.args or f.keywords, which the def it would
            # be has not (was: "'function' object has no attribute 'func'"): the partial itself
            value._sct_partial_kept = True
        if isinstance(value, gast.Call) and self.partials is not None and \
                self.partials.rewrite(self, value, out, hint, name) is not None:
            return                           # f = partial(g, ...): the def f (sct/partials.py)
        rhs = self.simple(value, out, hint=hint)
        self.emit(out, assign(name, rhs))

    def store_into(self, target, value, out: List):
        if isinstance(target, gast.Name):
            self.emit(out, assign(target.id, value))
        elif isinstance(target, (gast.Tuple, gast.List)):
            if any(isinstance(e, gast.Starred) for e in target.elts):
                self.starred_store(target, value, out)
                return
            token = next(_UNPACKINGS)
            for i, elt in enumerate(target.elts):
                item = gast.Subscript(value=value, slice=const(i), ctx=gast.Load())
                item.sct_unpack = (len(target.elts), i, False, token)
                if isinstance(elt, gast.Name):
                    self.emit(out, assign(elt.id, item))
                else:
                    tmp = self.atom(item, out, hint=self.hint_of(elt))
                    self.store_into(elt, tmp, out)
        elif isinstance(target, gast.Subscript):
            obj = self.atom(self.as_load(target.value), out, hint=self.hint_of(target))
            index = self.index(target.slice, out)
            self.emit(out, gast.Assign(targets=[gast.Subscript(value=obj, slice=index, ctx=gast.Store())],
                                       value=value, type_comment=None))
        elif isinstance(target, gast.Attribute):
            obj = self.atom(self.as_load(target.value), out, hint=self.hint_of(target))
            self.emit(out, gast.Assign(targets=[gast.Attribute(value=obj, attr=target.attr, ctx=gast.Store())],
                                       value=value, type_comment=None))
        else:
            self.fail(target, "this assignment target", "assign to a name, an item or an attribute")

    def starred_store(self, target, value, out: List):
        """``a, *rest, b = value``: the items before and after by position (counted from the end),
        ``rest`` a new list of the ones between; with items after the star, a check first that
        ``value`` has enough (Python's ValueError)."""
        star = next(i for i, e in enumerate(target.elts) if isinstance(e, gast.Starred))
        before, after = target.elts[:star], target.elts[star + 1:]
        count, token = len(before) + len(after), next(_UNPACKINGS)
        if after:
            check = self.emit(out, gast.Expr(value=call(f"{self.rt_name}.require_unpacked", [value, const(count)])))
            check.value.sct_unpack = (count, None, True, token)

        def item(index):
            node = gast.Subscript(value=value, slice=index, ctx=gast.Load())
            node.sct_unpack = (count, None, True, token)
            return node
        for i, elt in enumerate(before):
            self.store_into(elt, self.atom(item(const(i)), out, hint=self.hint_of(elt)), out)
        middle = item(gast.Slice(lower=const(star) if star else None, upper=const(-len(after)) if after else None,
                                 step=None))
        rest = self.atom(call(f"{self.rt_name}.listed", [self.atom(middle, out, hint="rest")]), out, hint="rest")
        self.store_into(target.elts[star].value, rest, out)
        for j, elt in enumerate(after):
            self.store_into(elt, self.atom(item(const(j - len(after))), out, hint=self.hint_of(elt)), out)

    def bool_op(self, name: str, node: gast.BoolOp, out: List):
        # a and b -> name = a; if name: name = b  (short-circuit kept)
        self.assign_to(name, node.values[0], out)
        for value in node.values[1:]:
            test = load(name)
            if isinstance(node.op, gast.Or):
                test = self.atom(gast.UnaryOp(op=gast.Not(), operand=test), out, hint="cond")
            branch = gast.If(test=test, body=[], orelse=[])
            self.emit(out, branch)
            self.assign_to(name, value, branch.body)
            out = branch.body

    # --- nested defs -----------------------------------------------------------------------
    def lambda_def(self, name: str, node: gast.Lambda, out: List) -> gast.FunctionDef:
        fdef = gast.FunctionDef(name=name, args=node.args, body=[gast.Return(value=node.body)],
                                decorator_list=[], returns=None, type_comment=None, type_params=[])
        fdef.lineno = self.line
        fdef.body[0].lineno = self.line
        fdef._sct_lambda = True              # (messages say "the lambda", not its made-up name)
        self.nested_defaults(fdef, out)
        return fdef

    def nested_defaults(self, fdef, out: List):
        """A nested def's default values are computed when the def runs: each into a name of
        its own, so a call can pass the value the def saw."""
        args = fdef.args
        args.defaults = [self.default_atom(fdef, d, out) for d in args.defaults]
        args.kw_defaults = [None if d is None else self.default_atom(fdef, d, out) for d in args.kw_defaults]

    def default_atom(self, fdef, node, out: List):
        value = self.atom(node, out, hint=fdef.name + "_default")
        if isinstance(value, gast.Name):
            name = self.namer.fresh(fdef.name + "_default")
            self.emit(out, assign(name, value))
            return load(name)
        return value


def check_entered_values(fdef, active, filename: str) -> None:
    """``with <expression> as u:`` where the expression reads a name that may hold a traced value
    (``active``, once activity is known): u is what ``__enter__`` gives, which sct does not follow,
    so a derivative through u would be lost (``with nullcontext(x * 2) as u``: silently zero before
    this was refused).  The normalizer marks the items that read the function's names; this refuses
    those reading a traced one, at the user's line."""
    if not getattr(fdef, "sct_entered_checks", False):
        return
    for node in walk_no_defs(fdef):        # (a nested def: checked where it is compiled, with its activity)
        if isinstance(node, gast.With):
            for item in node.items:
                mark = getattr(item, "sct_entered_check", None)
                if mark is None:
                    continue
                targets = getattr(item, "sct_entered_targets", None)       # (the names `as` binds)
                bound = [n.id for n in walk_nodes(item.optional_vars)
                         if isinstance(n, gast.Name) and not isinstance(n.ctx, gast.Load) and n.id in active] \
                    if targets is None else [t for t in targets if t in active]
                if bound:
                    raise CompileError(
                        f"sct cannot differentiate `with ... as {bound[0]}` where {bound[0]!r} holds a traced value "
                        f"in {mark[0]}(): {bound[0]!r} is what __enter__ gives, which may be the manager itself or "
                        "hold what it holds (a second name sct does not follow, so a derivative through the other "
                        f"name would be lost); keep traced values out of {bound[0]!r} (another name, or the block "
                        "without `as`)", filename, mark[1], "`with ... as name` holding a traced value")
                if mark[2] and any(isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load) and
                                   n.id in active for n in walk_nodes(item.context_expr)):
                    raise CompileError(
                        f"sct cannot differentiate `with ... as name` of a context manager made from the function's "
                        f"traced values in {mark[0]}(): sct does not follow what __enter__ gives, so a derivative "
                        "through the name would be lost; compute the value before the block and use it there "
                        "(u = x * 2, then `with ...:` without `as`)", filename, mark[1],
                        "`with ... as name` of a context manager made from the function's values")


#: Context managers (by the name of the function or class called) whose __exit__ never suppresses an
#: exception of the body: no check of the body's completion is written for them.
_NON_SUPPRESSING = frozenset(("errstate", "catch_warnings", "printoptions", "open", "nullcontext"))


def _never_suppresses(expr) -> bool:
    func = expr.func if isinstance(expr, gast.Call) else None
    name = func.id if isinstance(func, gast.Name) else func.attr if isinstance(func, gast.Attribute) else None
    return name in _NON_SUPPRESSING
