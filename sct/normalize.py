"""Pass 1: rewrite the user's function into a small core language.

After this pass a function body holds only

* ``name = <one operation on names and constants>`` (one op per statement, so
  each has one derivative rule), ``target[index] = name``, ``obj.attr = name``;
* ``if name:`` / ``for name in range(...):`` / ``while name:`` whose bodies are
  in the same form, ``break`` only as ``if flag: break`` closing a loop body;
* one ``return name`` at the end, and expression statements (calls).

Early ``return``, ``break`` and ``continue`` become flags, augmented
assignment, conditional expressions, ``and``/``or``, chained comparisons,
comprehensions and tuple unpacking become plain statements.  New names come
from the user's names, and every statement keeps the line of the user's
statement it came from.
"""
from __future__ import annotations

import copy
from typing import Dict, List, Optional, Tuple

import gast

from .errors import CompileError
from .ir import assign, call, const, load, node_key, store, walk_no_defs, walk_nodes
from .naming import Namer

BINOP_NAMES = {
    gast.Add: "add", gast.Sub: "sub", gast.Mult: "mul", gast.Div: "div", gast.Pow: "pow",
    gast.MatMult: "matmul", gast.FloorDiv: "floordiv", gast.Mod: "mod", gast.BitAnd: "and",
    gast.BitOr: "or", gast.BitXor: "xor", gast.LShift: "lshift", gast.RShift: "rshift",
}
INDEX_TRICKS = {"r_", "c_", "mgrid", "ogrid", "s_", "index_exp"}
UNARY_NAMES = {gast.USub: "neg", gast.UAdd: "pos", gast.Not: "not", gast.Invert: "invert"}
COMPARE_NAMES = {gast.Lt: "lt", gast.LtE: "le", gast.Gt: "gt", gast.GtE: "ge", gast.Eq: "eq",
                 gast.NotEq: "ne", gast.Is: "is", gast.IsNot: "isnot", gast.In: "in",
                 gast.NotIn: "notin"}

UNSUPPORTED = {
    gast.Yield: ("yield", "return a list instead of yielding values"),
    gast.YieldFrom: ("yield from", "return a list instead of yielding values"),
    gast.Await: ("await", "differentiate synchronous code"),
    gast.NamedExpr: ("the walrus operator :=", "assign in a separate statement"),
    gast.SetComp: ("a set comprehension", "use a list"),
    gast.Global: ("a global statement", "pass the value in and return the new one"),
    gast.Nonlocal: ("a nonlocal statement", "pass the value in and return the new one"),
    gast.Try: ("try/except", "check the condition with if instead of catching an exception"),
    gast.AsyncFor: ("async for", "use a plain for loop"),
    gast.AsyncWith: ("async with", "move it outside the differentiated function"),
    gast.ClassDef: ("a class definition", "define the class at module level"),
}


def _constant_name(node) -> bool:
    return isinstance(node, gast.Constant) and isinstance(node.value, str) and node.value.isidentifier()


def _simple_reference(node) -> bool:
    """A name or an attribute chain on one: evaluating it twice reads the same object."""
    while isinstance(node, gast.Attribute):
        node = node.value
    return isinstance(node, gast.Name)


class AttributeBuiltins(gast.NodeTransformer):
    """``getattr(o, "a")``, ``setattr(o, "a", v)`` and ``delattr(o, "a")`` with a string literal are
    ``o.a``, ``o.a = v`` and ``del o.a`` (analysed like them: an attribute store the analysis
    does not see would be a silent zero derivative); with a name known only when the code runs,
    setattr and delattr are refused (getattr of an object holding traced values is refused
    where it is differentiated)."""

    def __init__(self, fail):
        self.fail = fail

    @staticmethod
    def _builtin(node, name: str, counts) -> bool:
        return isinstance(node, gast.Call) and isinstance(node.func, gast.Name) and \
            node.func.id == name and not node.keywords and len(node.args) in counts and \
            not any(isinstance(a, gast.Starred) for a in node.args)

    def visit_Expr(self, node):
        value = node.value
        if self._builtin(value, "setattr", (3,)) or self._builtin(value, "delattr", (2,)):
            obj, name = value.args[0], value.args[1]
            if not _constant_name(name):
                self.fail(node, f"{value.func.id}() with an attribute name known only when it runs",
                          f"write obj.attribute = value with the attribute's name, or keep such values "
                          "in a dict (d[name] = value)")
            obj = self.visit(obj)
            if value.func.id == "delattr":
                new = gast.Delete(targets=[gast.Attribute(value=obj, attr=name.value, ctx=gast.Del())])
            else:
                new = gast.Assign(targets=[gast.Attribute(value=obj, attr=name.value, ctx=gast.Store())],
                                  value=self.visit(value.args[2]), type_comment=None)
            return gast.copy_location(new, node)
        return self.generic_visit(node)

    def visit_Call(self, node):
        self.generic_visit(node)
        if self._builtin(node, "setattr", (3,)) or self._builtin(node, "delattr", (2,)):
            self.fail(node, f"{node.func.id}() inside an expression",
                      f"call {node.func.id}() as a statement of its own (or assign the attribute)")
        if self._builtin(node, "getattr", (2, 3)) and _constant_name(node.args[1]):
            obj, name = node.args[0], node.args[1].value
            attribute = gast.Attribute(value=obj, attr=name, ctx=gast.Load())
            if len(node.args) == 2:
                return gast.copy_location(attribute, node)
            if not _simple_reference(obj):
                return node
            # getattr(o, "a", d): o.a if o has it, else d (evaluated only then, as Python does)
            test = gast.Call(func=gast.Name(id="hasattr", ctx=gast.Load(), annotation=None, type_comment=None),
                             args=[copy.deepcopy(obj), node.args[1]], keywords=[])
            return gast.copy_location(gast.IfExp(test=test, body=attribute, orelse=node.args[2]), node)
        return node


class Normalizer:
    def __init__(self, fdef: gast.FunctionDef, filename: str, namer: Namer, rt_name: str = "rt"):
        self.rt_name = rt_name
        self.fdef = fdef
        self.computed = {}
        self.filename = filename
        self.namer = namer
        self.line = fdef.lineno
        self.locals = None            # names bound in the function (computed when needed)

    # --- errors --------------------------------------------------------------------
    def fail(self, node, construct: str, advice: str):
        line = getattr(node, "lineno", None) or self.line
        raise CompileError(f"sct cannot differentiate {construct} in {self.fdef.name}(): {advice}",
                           self.filename, line, construct)

    def check_supported(self, node):
        for n in walk_no_defs(node):
            kind = UNSUPPORTED.get(type(n))
            if kind:
                self.fail(n, *kind)

    # --- entry ---------------------------------------------------------------------------
    def run(self) -> gast.FunctionDef:
        body = [s for s in self.fdef.body
                if not (isinstance(s, gast.Expr) and isinstance(s.value, gast.Constant))]
        for s in body:
            self.check_supported(s)
        body = [AttributeBuiltins(self.fail).visit(st) for st in body]
        body = JumpLowering(self.namer, self.fail).lower_function(body)
        new_body: List = []
        self.block(body, new_body)
        if not new_body or not isinstance(new_body[-1], gast.Return):
            ret = gast.Return(value=const(None))
            ret.lineno = self.line
            new_body.append(ret)
        self.fdef.body = new_body
        from .closures import ClosureConverter
        ClosureConverter(self.fdef, self.namer, self.rt_name, self.fail, self.filename).run()
        return self.fdef

    # --- statements ------------------------------------------------------------------------
    def block(self, stmts, out: List):
        for s in stmts:
            self.line = getattr(s, "lineno", self.line)
            self.computed = {}         # repeated pure sub-expressions of one statement, once
            self.stmt(s, out)

    def emit(self, out: List, node):
        node.lineno = self.line
        out.append(node)
        if isinstance(node, (gast.Assign, gast.Expr)) and isinstance(node.value, gast.Call):
            self.computed = {}         # a call may change what d[k] or o.a read (or rebind a name)
        return node

    def stmt(self, s, out: List):
        if isinstance(s, gast.Assign):
            value = s.value
            if len(s.targets) == 1 and isinstance(s.targets[0], gast.Name):
                self.assign_to(s.targets[0].id, value, out)
                return
            target0 = s.targets[0]
            if len(s.targets) == 1 and isinstance(target0, (gast.Tuple, gast.List)) and \
                    isinstance(value, (gast.Tuple, gast.List)) and len(target0.elts) == len(value.elts) and \
                    not any(isinstance(e, gast.Starred) for e in target0.elts + value.elts):
                # a, b = e1, e2: every value first (a, b = b, a swaps), then each target, with no
                # tuple in between (so each name holds its own item, for the aliasing analysis)
                items = []
                for t, e in zip(target0.elts, value.elts):
                    item = self.atom(e, out, hint=self.hint_of(t))
                    if isinstance(e, gast.Name) and isinstance(item, gast.Name):
                        fresh = self.namer.fresh(self.hint_of(t))
                        self.emit(out, assign(fresh, item))
                        item = load(fresh)
                    items.append(item)
                for t, item in zip(target0.elts, items):
                    self.store_into(t, item, out)
                return
            tmp = self.atom(value, out, hint=self.hint_of(s.targets[0]))
            for target in s.targets:
                self.store_into(target, tmp, out)
        elif isinstance(s, gast.AugAssign):
            target = s.target
            # ``t += v`` changes an array (list, dict) t holds in place, and rebinds a number:
            # the statement computing the new value is marked (``sct_augmented``) with the
            # name of the old value, for the aliasing analysis (sct.aliasing.check_augmented)
            # ``rt.inplace_result(new, old)`` keeps an array's dtype and shape (numpy changes it
            # in place); a number, tuple or list is the new value itself
            if isinstance(target, gast.Name):
                current = gast.BinOp(left=self.as_load(target), op=s.op, right=s.value)
                tmp = self.namer.fresh(target.id + "_" + BINOP_NAMES.get(type(s.op), "op"))
                self.assign_to(tmp, current, out)
                if out and isinstance(out[-1], gast.Assign):
                    out[-1].sct_augmented = (target.id, None)
                self.emit(out, assign(target.id, call(f"{self.rt_name}.inplace_result",
                                                      [load(tmp), load(target.id)])))
            elif isinstance(target, (gast.Subscript, gast.Attribute)):
                # the container and the index are evaluated once, as in Python
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
            else:
                self.fail(target, "this assignment target", "assign to a name, an item or an attribute")
        elif isinstance(s, gast.AnnAssign):
            if s.value is not None:
                self.stmt(gast.Assign(targets=[s.target], value=s.value, type_comment=None), out)
        elif isinstance(s, gast.Expr):
            if isinstance(s.value, gast.Constant):
                return
            value = self.simple(s.value, out, hint="out")
            self.emit(out, gast.Expr(value=value))
        elif isinstance(s, gast.If):
            test = self.atom(s.test, out, hint="cond")
            node = gast.If(test=test, body=[], orelse=[])
            self.emit(out, node)
            self.block(s.body, node.body)
            self.block(s.orelse, node.orelse)
        elif isinstance(s, gast.For):
            self.for_loop(s, out)
        elif isinstance(s, gast.While):
            if s.orelse:
                self.fail(s, "while ... else", "set a flag in the loop and test it after")
            body: List = []
            test = self.atom(s.test, out, hint="cond")
            if not isinstance(test, gast.Name):
                name = self.namer.fresh("cond")
                self.emit(out, assign(name, test))
                test = load(name)
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
            else:
                self.assign_to(test.id, s.test, body)
            self.line = line
        elif isinstance(s, gast.Return):
            value = const(None) if s.value is None else self.atom(s.value, out, hint="out")
            self.emit(out, gast.Return(value=value))
        elif isinstance(s, (gast.Pass,)):
            return
        elif isinstance(s, (gast.Break, gast.Continue)):
            self.emit(out, type(s)())
        elif isinstance(s, gast.With):
            node = gast.With(items=s.items, body=[], type_comment=None)
            self.emit(out, node)         # the body runs once, inside the context
            self.block(s.body, node.body)
            if not node.body:
                node.body.append(gast.Pass())
        elif isinstance(s, gast.Delete):
            if not all(isinstance(t, gast.Name) for t in s.targets):
                self.fail(s, "del of an item or attribute", "build a new value without it")
            return                       # unbinding a name changes no value: nothing to do
        elif isinstance(s, gast.FunctionDef):
            self.nested_defaults(s, out)
            self.emit(out, s)            # a nested helper: compiled on its own when it is called
        elif isinstance(s, (gast.Import, gast.ImportFrom, gast.Assert, gast.Raise)):
            self.emit(out, s)            # kept as written: no derivative flows through them
        else:
            self.fail(s, type(s).__name__, "rewrite it with assignments, if, for and while")

    def for_loop(self, s: gast.For, out: List):
        if s.orelse:
            self.fail(s, "for ... else", "set a flag in the loop and test it after")
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

    def walked(self, it, target, out: List, sequences: List, lengths: List, index_targets: List):
        """The sequences a for loop over ``it`` walks by position, with their targets: enumerate
        and zip (nested in each other too) are taken apart; any other iterable is one sequence."""
        if isinstance(it, gast.Call) and isinstance(it.func, gast.Name) and \
                it.func.id == "enumerate" and len(it.args) == 1 and not it.keywords and \
                isinstance(target, gast.Tuple) and len(target.elts) == 2:
            index_targets.append(target.elts[0])
            self.walked(it.args[0], target.elts[1], out, sequences, lengths, index_targets)
        elif isinstance(it, gast.Call) and isinstance(it.func, gast.Name) and \
                it.func.id == "enumerate" and isinstance(target, gast.Tuple) and len(target.elts) == 2 \
                and len(it.args) + len(it.keywords) == 2 and len(it.args) >= 1 and \
                all(k.arg == "start" for k in it.keywords):
            start = self.atom(it.args[1] if len(it.args) == 2 else it.keywords[0].value, out, hint="start")
            index_targets.append((target.elts[0], start))
            self.walked(it.args[0], target.elts[1], out, sequences, lengths, index_targets)
        elif isinstance(it, gast.Call) and isinstance(it.func, gast.Name) and it.func.id == "reversed" \
                and len(it.args) == 1 and not it.keywords:
            seq = self.sequence(it.args[0], out)
            back = gast.Subscript(value=seq, slice=gast.Slice(lower=None, upper=None, step=const(-1)),
                                  ctx=gast.Load())
            seq = self.atom(back, out, hint="seq")
            sequences.append((target, seq))
            lengths.append(self.atom(call("len", [seq]), out, hint="n"))
        elif isinstance(it, gast.Call) and isinstance(it.func, gast.Name) and it.func.id == "zip" \
                and not it.keywords and isinstance(target, gast.Tuple) and \
                len(target.elts) == len(it.args) and it.args:
            for a, t in zip(it.args, target.elts):
                self.walked(a, t, out, sequences, lengths, index_targets)
        else:
            seq = self.sequence(it, out)
            sequences.append((target, seq))
            lengths.append(self.atom(call("len", [seq]), out, hint="n"))

    def sequence(self, iterable, out: List):
        """What a for loop walks by position: lists, tuples and arrays as they are, and any
        other iterable (dict keys, views, generators) as a list."""
        value = self.atom(iterable, out, hint="seq")
        return self.atom(call(f"{self.rt_name}.as_sequence", [value]), out, hint="seq")

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
        rhs = self.simple(value, out, hint=hint)
        self.emit(out, assign(name, rhs))

    def store_into(self, target, value, out: List):
        if isinstance(target, gast.Name):
            self.emit(out, assign(target.id, value))
        elif isinstance(target, (gast.Tuple, gast.List)):
            if any(isinstance(e, gast.Starred) for e in target.elts):
                self.fail(target, "starred unpacking", "index the sequence explicitly")
            for i, elt in enumerate(target.elts):
                item = gast.Subscript(value=value, slice=const(i), ctx=gast.Load())
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

    def scoped(self, node):
        """A copy of the comprehension ``node`` whose variables have fresh names: in Python 3
        they live in the comprehension's own scope, and must not overwrite the function's."""
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
        self.emit(out, assign(name, empty))
        for gen in reversed(node.generators):
            if gen.is_async:
                self.fail(node, "async comprehension", "use a plain loop")
            for cond in reversed(gen.ifs):
                inner = [gast.If(test=cond, body=inner, orelse=[])]
            inner = [gast.For(target=gen.target, iter=gen.iter, body=inner, orelse=[], type_comment=None)]
        for s in inner:
            s.lineno = self.line
        self.block(inner, out)

    # --- expressions ----------------------------------------------------------------------------
    def atom(self, node, out: List, hint: str):
        """``node`` as a name or a constant, emitting what computes it."""
        if isinstance(node, gast.UnaryOp) and isinstance(node.op, gast.USub) and \
                isinstance(node.operand, gast.Constant) and \
                isinstance(node.operand.value, (int, float, complex)) and \
                not isinstance(node.operand.value, bool):
            return const(-node.operand.value)          # -1 is a number, not an operation
        if isinstance(node, (gast.Name, gast.Constant)):
            if isinstance(node, gast.Name):
                return load(node.id)
            return node
        if isinstance(node, gast.Lambda):         # the def's own name (calls of it are direct)
            return self.simple(node, out, hint)
        if isinstance(node, (gast.IfExp, gast.BoolOp, gast.ListComp, gast.GeneratorExp, gast.DictComp)):
            name = self.namer.fresh(self.temp_name(node, hint))
            self.assign_to(name, node, out, hint)
            if any(isinstance(n, gast.Call) for n in walk_nodes(node)):
                self.computed = {}     # (see emit)
            return load(name)
        rhs = self.simple(node, out, hint)       # operands first, so names follow the order
        key = None
        if isinstance(rhs, (gast.Subscript, gast.Attribute, gast.BinOp, gast.UnaryOp, gast.Compare)) and \
                not any(isinstance(n, gast.Call) for n in walk_nodes(rhs)):
            key = (id(out), node_key(rhs))        # equal where gast.dump's strings are
            if key in self.computed:
                return load(self.computed[key])
        name = self.namer.fresh(self.temp_name(node, hint))
        self.emit(out, assign(name, rhs))
        if key is not None:
            self.computed[key] = name
        return load(name)

    def temp_name(self, node, hint: str) -> str:
        if isinstance(node, gast.Subscript) and isinstance(node.value, gast.Name):
            if isinstance(node.slice, gast.Constant) and isinstance(node.slice.value, int) \
                    and node.slice.value >= 0:
                return f"{node.value.id}{node.slice.value}"
            return f"{node.value.id}_item"
        if isinstance(node, gast.Attribute) and isinstance(node.value, gast.Name):
            return f"{node.value.id}_{node.attr}"
        if isinstance(node, gast.BinOp):
            return f"{hint}_{BINOP_NAMES.get(type(node.op), 'op')}"
        if isinstance(node, gast.UnaryOp):
            return f"{hint}_{UNARY_NAMES.get(type(node.op), 'op')}"
        if isinstance(node, gast.Compare):
            return "cond"
        if isinstance(node, gast.Call):
            f = node.func
            fname = f.attr if isinstance(f, gast.Attribute) else getattr(f, "id", "call")
            return f"{hint}_{fname}"
        return f"{hint}_t"

    def index_trick(self, node: gast.Subscript):
        """``np.r_[a, b]`` / ``np.c_[a, b]`` are concatenations: written as such, so they are
        differentiated; any other index-trick object (``np.mgrid[...]``, ``np.r_`` with slices or
        directives) becomes ``rt.index_trick(obj, index)``, refused when the index is traced."""
        module = node.value.value
        items = node.slice.elts if isinstance(node.slice, gast.Tuple) else [node.slice]

        def np_call(name, args, keywords=()):
            return gast.Call(func=gast.Attribute(value=load(module.id), attr=name, ctx=gast.Load()),
                             args=list(args), keywords=list(keywords))

        plain = items and not any(isinstance(e, (gast.Slice, gast.Starred)) or
                                  (isinstance(e, gast.Constant) and isinstance(e.value, str))
                                  for e in items)
        if plain and node.value.attr == "r_":
            pieces = [call(f"{self.rt_name}.at_least_1d", [e]) for e in items]
            return np_call("concatenate", [gast.List(elts=pieces, ctx=gast.Load())],
                           [gast.keyword(arg="axis", value=const(0))])
        if plain and node.value.attr == "c_":
            # each piece at least 2-D with its own axes first ((n,) -> (n, 1)), joined on the last
            pieces = []
            for e in items:
                shape = gast.BinOp(
                    left=np_call("shape", [e]), op=gast.Add(),
                    right=gast.BinOp(left=gast.Tuple(elts=[const(1)], ctx=gast.Load()), op=gast.Mult(),
                                     right=gast.BinOp(left=const(2), op=gast.Sub(),
                                                      right=np_call("ndim", [e]))))
                pieces.append(np_call("reshape", [e, shape]))
            return np_call("concatenate", [gast.List(elts=pieces, ctx=gast.Load())],
                           [gast.keyword(arg="axis", value=const(-1))])

        def as_value(e):
            if isinstance(e, gast.Slice):
                return gast.Call(func=load("slice"), keywords=[], args=[
                    e.lower or const(None), e.upper or const(None), e.step or const(None)])
            return e
        index = gast.Tuple(elts=[as_value(e) for e in items], ctx=gast.Load()) \
            if isinstance(node.slice, gast.Tuple) else as_value(node.slice)
        spelled = f"{module.id}.{node.value.attr}"
        return call(f"{self.rt_name}.index_trick", [node.value, index, const(spelled)])

    def simple(self, node, out: List, hint: str):
        """``node`` with every operand an atom (one operation)."""
        if isinstance(node, (gast.Name, gast.Constant)):
            return node
        if isinstance(node, gast.BinOp):
            return gast.BinOp(left=self.atom(node.left, out, hint), op=node.op,
                              right=self.atom(node.right, out, hint))
        if isinstance(node, gast.UnaryOp):
            return gast.UnaryOp(op=node.op, operand=self.atom(node.operand, out, hint))
        if isinstance(node, gast.Compare):
            if len(node.ops) == 1:
                return gast.Compare(left=self.atom(node.left, out, hint), ops=node.ops,
                                    comparators=[self.atom(node.comparators[0], out, hint)])
            parts = []
            left = node.left
            for op, right in zip(node.ops, node.comparators):
                right_atom = self.atom(right, out, hint)
                parts.append(gast.Compare(left=left, ops=[op], comparators=[right_atom]))
                left = right_atom
            return self.simple(gast.BoolOp(op=gast.And(), values=parts), out, hint)
        if isinstance(node, (gast.BoolOp, gast.IfExp, gast.ListComp, gast.GeneratorExp, gast.DictComp)):
            return self.atom(node, out, hint)
        if isinstance(node, gast.Call) and isinstance(node.func, gast.Name) and node.func.id == "map" \
                and len(node.args) >= 2 and not node.keywords:
            # map(f, xs, ...) -> [f(v, ...) for v, ... in zip(xs, ...)]
            names = [self.namer.fresh("item") for _ in node.args[1:]]
            targets = [store(n) for n in names]
            target = targets[0] if len(targets) == 1 else gast.Tuple(elts=targets, ctx=gast.Store())
            source = node.args[1] if len(node.args) == 2 else call("zip", node.args[1:])
            comp = gast.ListComp(elt=gast.Call(func=node.args[0], args=[load(n) for n in names], keywords=[]),
                                 generators=[gast.comprehension(target=target, iter=source, ifs=[],
                                                                is_async=0)])
            return self.atom(comp, out, hint)
        if isinstance(node, gast.Call) and isinstance(node.func, gast.Name) and node.func.id == "super" \
                and not node.args and self.fdef.args.args:
            # zero-argument super() needs the __class__ cell of the original method; name it
            node = gast.Call(func=node.func, args=[load("__class__"), load(self.fdef.args.args[0].id)],
                             keywords=[])
        if isinstance(node, gast.Call):
            func = node.func
            if isinstance(func, gast.Attribute):
                func = gast.Attribute(value=self.chain(func.value, out, hint), attr=func.attr,
                                      ctx=gast.Load())
            elif not isinstance(func, gast.Name):
                func = self.atom(func, out, hint)
            args = []
            for a in node.args:
                if isinstance(a, gast.Starred):
                    args.append(gast.Starred(value=self.atom(a.value, out, hint), ctx=gast.Load()))
                else:
                    args.append(self.atom(a, out, hint))
            keywords = []
            for k in node.keywords:
                if k.arg is None:
                    self.fail(node, "**kwargs in a call", "pass the keywords explicitly")
                keywords.append(gast.keyword(arg=k.arg, value=self.atom(k.value, out, hint)))
            return gast.Call(func=func, args=args, keywords=keywords)
        if isinstance(node, gast.Attribute):
            return gast.Attribute(value=self.chain(node.value, out, hint), attr=node.attr,
                                  ctx=gast.Load())
        if isinstance(node, gast.Subscript) and isinstance(node.value, gast.Attribute) and \
                isinstance(node.value.value, gast.Name) and node.value.attr in INDEX_TRICKS:
            return self.simple(self.index_trick(node), out, hint)
        if isinstance(node, gast.Subscript):
            return gast.Subscript(value=self.atom(node.value, out, hint),
                                  slice=self.index(node.slice, out), ctx=gast.Load())
        if isinstance(node, (gast.Tuple, gast.List)):
            if any(isinstance(e, gast.Starred) for e in node.elts):
                return self.starred_literal(node, out, hint)
            return type(node)(elts=[self.atom(e, out, hint) for e in node.elts], ctx=gast.Load())
        if isinstance(node, gast.Dict):
            if any(k is None for k in node.keys):
                return self.merged_dict(node, out, hint)
            return gast.Dict(keys=[self.atom(k, out, hint) for k in node.keys],
                             values=[self.atom(v, out, hint) for v in node.values])
        if isinstance(node, gast.JoinedStr):
            return node
        if isinstance(node, gast.Lambda):
            # a lambda becomes a nested def, compiled on its own when it is called
            name = self.namer.fresh(hint + "_lambda")
            self.emit(out, self.lambda_def(name, node, out))
            return load(name)
        if isinstance(node, gast.Slice):
            return node
        kind = UNSUPPORTED.get(type(node))
        if kind:
            self.fail(node, *kind)
        self.fail(node, type(node).__name__, "rewrite the expression with simpler operations")

    def starred_literal(self, node, out: List, hint: str):
        """``[*l, v]`` / ``(*l, v)``: the pieces concatenated (each ``*l`` a new list)."""
        parts, run = [], []

        def flush():
            if run:
                parts.append(self.atom(gast.List(elts=list(run), ctx=gast.Load()), out, hint))
                run.clear()
        for e in node.elts:
            if isinstance(e, gast.Starred):
                flush()
                parts.append(self.atom(call(f"{self.rt_name}.listed", [e.value]), out, hint))
            else:
                run.append(e)
        flush()
        value = parts[0]
        for part in parts[1:]:
            value = self.atom(gast.BinOp(left=value, op=gast.Add(), right=part), out, hint)
        return call(f"{self.rt_name}.{'tupled' if isinstance(node, gast.Tuple) else 'listed'}", [value])

    def merged_dict(self, node: gast.Dict, out: List, hint: str):
        """``{**p, "w": v}``: the pieces merged in order, later keys winning."""
        parts, keys, values = [], [], []

        def flush():
            if keys:
                parts.append(self.atom(gast.Dict(keys=list(keys), values=list(values)), out, hint))
                keys.clear()
                values.clear()
        for k, v in zip(node.keys, node.values):
            if k is None:
                flush()
                parts.append(self.atom(v, out, hint))
            else:
                keys.append(k)
                values.append(v)
        flush()
        value = self.atom(gast.Dict(keys=[], values=[]), out, hint)
        for i, part in enumerate(parts):
            merged = call(f"{self.rt_name}.dict_merged", [value, part])
            if i == len(parts) - 1:
                return merged
            value = self.atom(merged, out, hint)
        return value

    def lambda_def(self, name: str, node: gast.Lambda, out: List) -> gast.FunctionDef:
        fdef = gast.FunctionDef(name=name, args=node.args, body=[gast.Return(value=node.body)],
                                decorator_list=[], returns=None, type_comment=None, type_params=[])
        fdef.lineno = self.line
        fdef.body[0].lineno = self.line
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

    def chain(self, node, out: List, hint: str):
        """Keep ``np.linalg`` attribute chains on a global name (a module path, resolved when
        compiling); a chain on a local value (``self.a``, ``w.T``) is a value: atomized."""
        if isinstance(node, gast.Name):
            return load(node.id)
        if isinstance(node, gast.Attribute) and _is_name_chain(node) and not self.local_root(node):
            return node
        return self.atom(node, out, hint)

    def local_root(self, node) -> bool:
        """Is the name at the root of this attribute chain bound in the function (a value
        the compiler traces), not a global such as a module?"""
        while isinstance(node, gast.Attribute):
            node = node.value
        if self.locals is None:
            a = self.fdef.args
            params = a.posonlyargs + a.args + a.kwonlyargs + [p for p in (a.vararg, a.kwarg) if p]
            self.locals = {p.id for p in params} | {
                n.id for n in gast.walk(self.fdef) if isinstance(n, gast.Name) and
                isinstance(n.ctx, (gast.Store, gast.Param))} | {
                n.name for s in self.fdef.body for n in gast.walk(s) if isinstance(n, gast.FunctionDef)}
        return isinstance(node, gast.Name) and node.id in self.locals

    def index(self, node, out: List):
        if isinstance(node, gast.Slice):
            return gast.Slice(lower=self.opt_atom(node.lower, out), upper=self.opt_atom(node.upper, out),
                              step=self.opt_atom(node.step, out))
        if isinstance(node, gast.Tuple):
            return gast.Tuple(elts=[self.index(e, out) for e in node.elts], ctx=gast.Load())
        return self.atom(node, out, hint="idx")

    def opt_atom(self, node, out: List):
        return None if node is None else self.atom(node, out, hint="idx")


def _is_name_chain(node) -> bool:
    while isinstance(node, gast.Attribute):
        node = node.value
    return isinstance(node, gast.Name)


class JumpLowering:
    """Early return, break and continue become flags and guarded blocks."""

    def __init__(self, namer: Namer, fail):
        self.namer = namer
        self.fail = fail
        self.retval: Optional[str] = None
        self.returned: Optional[str] = None

    def lower_function(self, body: List) -> List:
        returns = [n for s in body for n in walk_no_defs(s) if isinstance(n, gast.Return)]
        final = body[-1] if body and isinstance(body[-1], gast.Return) else None
        if all(r is final for r in returns):
            if not any(self.has_loop_jump(s) for s in body):
                return body
            return self.block(body, None)
        self.retval = self.namer.fresh("retval")
        self.returned = self.namer.fresh("returned")
        line = body[0].lineno
        head = [assign(self.retval, const(None), line), assign(self.returned, const(False), line)]
        lowered = self.block(body, None)
        ret = gast.Return(value=load(self.retval))
        ret.lineno = returns[-1].lineno
        return head + lowered + [ret]

    @staticmethod
    def has_loop_jump(node) -> bool:
        for n in walk_no_defs(node):
            if isinstance(n, (gast.Break, gast.Continue)):
                return True
        return False

    def jumps_here(self, node) -> bool:
        """Does ``node`` contain a break/continue of the current loop, or a return?"""
        if isinstance(node, (gast.For, gast.While)):
            return bool(self.returned) and any(isinstance(m, gast.Return) for m in walk_no_defs(node))
        todo = [node]
        while todo:
            n = todo.pop()
            if isinstance(n, gast.Return) and self.returned:
                return True
            if isinstance(n, (gast.Break, gast.Continue)):
                return True
            for child in gast.iter_child_nodes(n):
                if isinstance(child, (gast.For, gast.While)):
                    if any(isinstance(m, gast.Return) for m in walk_no_defs(child)) and self.returned:
                        return True
                    continue
                if isinstance(child, (gast.FunctionDef, gast.Lambda, gast.ClassDef)):
                    continue
                todo.append(child)
        return False

    def block(self, stmts: List, loop: Optional[Tuple[str, str]]) -> List:
        out: List = []
        for i, s in enumerate(stmts):
            jumps = self.jumps_here(s)
            out.extend(self.stmt(s, loop))
            if jumps and i + 1 < len(stmts):
                test = gast.UnaryOp(op=gast.Not(), operand=load(loop[0] if loop else self.returned))
                guard = gast.If(test=test, body=self.block(stmts[i + 1:], loop), orelse=[])
                guard.lineno = stmts[i + 1].lineno
                out.append(guard)
                break
        return out

    def stmt(self, s, loop):
        line = s.lineno
        if isinstance(s, gast.Return) and self.returned:
            value = s.value if s.value is not None else const(None)
            out = [gast.Assign(targets=[store(self.retval)], value=value, type_comment=None),
                   assign(self.returned, const(True), line)]
            out[0].lineno = line
            if loop:
                out += [assign(loop[0], const(True), line), assign(loop[1], const(True), line)]
            return out
        if isinstance(s, gast.Break):
            if not loop:
                self.fail(s, "break outside a loop", "remove it")
            return [assign(loop[0], const(True), line), assign(loop[1], const(True), line)]
        if isinstance(s, gast.Continue):
            if not loop:
                self.fail(s, "continue outside a loop", "remove it")
            return [assign(loop[0], const(True), line)]
        if isinstance(s, gast.If):
            s.body = self.block(s.body, loop)
            s.orelse = self.block(s.orelse, loop)
            return [s]
        if isinstance(s, gast.With):
            s.body = self.block(s.body, loop)
            return [s]
        if isinstance(s, (gast.For, gast.While)):
            # (decided before the body is lowered: lowering replaces its returns by flags)
            returns_inside = bool(self.returned) and any(isinstance(n, gast.Return)
                                                         for n in walk_no_defs(s))
            if not self.jumps_here_in_loop(s):
                # no jump of this loop, but a loop nested in it may have its own
                s.body = self.block(s.body, None)
                return [s]
            skip = self.namer.fresh("skip")
            stop = self.namer.fresh("stop")
            body = [assign(skip, const(False), line)] + self.block(s.body, (skip, stop))
            closing = gast.If(test=load(stop), body=[gast.Break()], orelse=[])
            closing.lineno = line
            closing.body[0].lineno = line
            s.body = body + [closing]
            out = [assign(stop, const(False), line), s]
            if loop and returns_inside:
                out.append(gast.If(test=load(self.returned),
                                   body=[assign(loop[0], const(True), line),
                                         assign(loop[1], const(True), line)], orelse=[]))
                out[-1].lineno = line
            return out
        return [s]

    def jumps_here_in_loop(self, loop) -> bool:
        for s in loop.body:
            if self.jumps_here(s):
                return True
        return False


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
