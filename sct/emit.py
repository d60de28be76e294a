"""Printing generated code: astunparse, fixed and made readable.

astunparse 1.6.3 prints ``x[:, 0]`` as ``x[(:, 0)]`` on Python >= 3.9 (a
syntax error); this printer writes tuple subscripts without parentheses,
drops the redundant outer parentheses of an assignment's right-hand side and
turns comment markers into ``# ...`` lines.

Every printed expression parses back to an expression with the same value:
astunparse writes a negative constant bare (``(-0.5) ** 2`` came out as
``-0.5 ** 2``, which is -0.25), so numeric constants are written here so that
they parse back to exactly the same number (sign of zero, infinities and NaN
included), parenthesised wherever they begin with a minus sign.
"""
from __future__ import annotations

import ast
import io
import math
from typing import List, Optional, Tuple

import astunparse
import gast

COMMENT = "\x00sct-comment\x00"


LINE = "\x01"          # a comment's user line travels on its node: COMMENT + LINE + "12" + LINE + text


def comment(text: str, line: Optional[int] = None) -> gast.Expr:
    """A statement that prints as ``# text``; ``line``: the user's line the code after it comes
    from (it goes into the generated file's line table, built while printing)."""
    marker = f"{LINE}{line}{LINE}" if line is not None else ""
    return gast.Expr(value=gast.Constant(value=COMMENT + marker + text, kind=None))


class _CountingText(io.StringIO):
    """The printer's output; an event's place in it is its offset (``tell``), made a count of
    the lines written before it once the text is complete (``source_and_lines``: one pass, not a
    count per write)."""


_METHODS: dict = {}


class Printer(astunparse.Unparser):
    def __init__(self, tree, file):
        self.events: List[Tuple[int, Optional[int]]] = []    # (offset in the text, user line or None)
        self._methods = _METHODS.setdefault(type(self), {})   # node class -> method (dispatch)
        super().__init__(tree, file=file)

    def dispatch(self, tree):
        """astunparse's dispatch, with each class's method looked up once (not by name per node)."""
        if isinstance(tree, list):
            for t in tree:
                self.dispatch(t)
            return
        cls = tree.__class__
        if self._nested and isinstance(tree, gast.stmt) and isinstance(self.f, _CountingText):
            line = getattr(tree, "lineno", None)
            if line is not None:
                self._pending = line
        meth = self._methods.get(cls)
        if meth is None:
            meth = self._methods[cls] = getattr(type(self), "_" + cls.__name__)
        meth(self, tree)

    def _FunctionDef(self, t):
        """A def nested in generated code (the user's own, kept as written): each of its statements
        is the user's line it came from, in the line table (was: all of them the def's line, so an
        error inside named `def inner(z):`); the code after it, the line before it again."""
        if self._indent == 0 or not isinstance(self.f, _CountingText):
            return super()._FunctionDef(t)
        before = self.events[-1][1] if self.events else None
        self._nested += 1
        try:
            super()._FunctionDef(t)
        finally:
            self._nested -= 1
        self._pending = before

    def write(self, text):
        self.f.write(text if text.__class__ is str else str(text))     # (astunparse: six.text_type)

    _nested = 0             # the depth of user defs nested in generated code being printed
    _pending = None         # the user line of the statement being printed there (``fill`` records it)

    def fill(self, text=""):
        super().fill(text)
        if self._pending is not None:
            self.events.append((self.f.tell(), self._pending))
            self._pending = None
        if self._indent == 0 and text.startswith(("def ", "async def ")) and isinstance(self.f, _CountingText):
            self.events.append((self.f.tell(), None))   # a new function: no user line yet

    def _Expr(self, tree):
        value = tree.value
        if value.__class__.__name__ == "Constant" and isinstance(value.value, str) and \
                value.value.startswith(COMMENT):
            text = value.value[len(COMMENT):]
            user_line = None
            if text.startswith(LINE):
                number, text = text[1:].split(LINE, 1)
                user_line = int(number)
            for i, line in enumerate(text.splitlines() or [""]):
                self.fill("# " + line)
                if i == 0 and user_line is not None and isinstance(self.f, _CountingText):
                    self.events.append((self.f.tell(), user_line))
            return
        super()._Expr(tree)

    def _Constant(self, t):
        value = t.value
        if isinstance(value, bool) or not isinstance(value, (int, float, complex)):
            if isinstance(value, tuple) or value is Ellipsis:
                return super()._Constant(t)
            if getattr(t, "kind", None) == "u":     # (a gast node may lack ``kind``)
                self.write("u")
            return self._write_constant(value)
        self.write(number_source(value))

    def _write_constant(self, value):          # elements of a tuple constant
        if isinstance(value, (int, float, complex)) and not isinstance(value, bool):
            self.write(number_source(value))
        else:
            super()._write_constant(value)

    def _Subscript(self, t):
        self.dispatch(t.value)
        self.write("[")
        if t.slice.__class__.__name__ == "Tuple" and t.slice.elts:
            for i, elt in enumerate(t.slice.elts):
                if i:
                    self.write(", ")
                self.dispatch(elt)
            if len(t.slice.elts) == 1:
                self.write(",")
        else:
            self.dispatch(t.slice)
        self.write("]")

    def _Assign(self, t):
        self.fill()
        for target in t.targets:
            self.dispatch(target)
            self.write(" = ")
        self._bare(t.value)

    def _Return(self, t):
        self.fill("return")
        user_line = getattr(t, "sct_user_line", None)
        if user_line is not None and isinstance(self.f, _CountingText):
            # (a sweep's closing ``return rt.project(d_x, x)`` is the dlgradient's line, not the line
            # of the adjoint block above it: an error there, a gradient refused, names the dlgradient)
            self.events.append((self.f.tell(), user_line))
        if t.value is not None:
            self.write(" ")
            self._bare(t.value)

    def _bare(self, value):
        """An expression without the outer parentheses astunparse would add."""
        kind = value.__class__.__name__
        if kind == "BinOp":
            self.dispatch(value.left)
            self.write(" " + self.binop[value.op.__class__.__name__] + " ")
            self.dispatch(value.right)
        elif kind == "Compare":
            self.dispatch(value.left)
            for o, e in zip(value.ops, value.comparators):
                self.write(" " + self.cmpops[o.__class__.__name__] + " ")
                self.dispatch(e)
        elif kind == "UnaryOp":
            op = self.unop[value.op.__class__.__name__]
            self.write(op + (" " if op == "not" else ""))
            self.dispatch(value.operand)
        elif kind == "Tuple" and value.elts:
            for i, elt in enumerate(value.elts):
                if i:
                    self.write(", ")
                self.dispatch(elt)
            if len(value.elts) == 1:
                self.write(",")
        else:
            self.dispatch(value)

    def _test(self, value):
        """A condition: bare, except a tuple (``if a, b:`` is a syntax error)."""
        if value.__class__.__name__ == "Tuple":
            self.dispatch(value)
        else:
            self._bare(value)

    def _If(self, t):
        self.fill("if ")
        self._test(t.test)
        self.enter()
        self.dispatch(t.body)
        self.leave()
        while t.orelse and len(t.orelse) == 1 and t.orelse[0].__class__.__name__ == "If":
            t = t.orelse[0]
            self.fill("elif ")
            self._test(t.test)
            self.enter()
            self.dispatch(t.body)
            self.leave()
        if t.orelse:
            self.fill("else")
            self.enter()
            self.dispatch(t.orelse)
            self.leave()

    def _While(self, t):
        self.fill("while ")
        self._test(t.test)
        self.enter()
        self.dispatch(t.body)
        self.leave()

    def _UnaryOp(self, t):
        op = self.unop[t.op.__class__.__name__]
        self.write("(" + op + (" " if op == "not" else ""))
        self.dispatch(t.operand)
        self.write(")")


    # gast trees are printed as they are (no conversion to ast first): where a gast node differs
    # from its ast counterpart, or astunparse tests a node's ast class, the method below reads it
    # either way (an ast tree prints as before)
    def _arguments(self, t):
        if t.__class__ is gast.arguments:     # parameters are Names there: printed from the ast form
            t = _ToAst().visit(t)
        super()._arguments(t)

    def _ExceptHandler(self, t):
        if t.__class__ is gast.ExceptHandler and t.name is not None:
            t = _ToAst().visit(t)       # (its name is a Name there)
        super()._ExceptHandler(t)

    def _AnnAssign(self, t):
        self.fill()
        paren = not t.simple and t.target.__class__.__name__ == "Name"
        if paren:
            self.write('(')
        self.dispatch(t.target)
        if paren:
            self.write(')')
        self.write(": ")
        self.dispatch(t.annotation)
        if t.value:
            self.write(" = ")
            self.dispatch(t.value)

    _BOOLOPS = {"And": "and", "Or": "or"}

    def _BoolOp(self, t):
        self.write("(")
        for i, v in enumerate(t.values):
            if i:
                self.write(" %s " % self._BOOLOPS[t.op.__class__.__name__])
            self.dispatch(v)
        self.write(")")

    def _Attribute(self, t):
        self.dispatch(t.value)
        if t.value.__class__.__name__ == "Constant" and isinstance(t.value.value, int):
            self.write(" ")
        self.write(".")
        self.write(t.attr)


_INF = "1e309"          # overflows to inf when parsed


def _float_source(value: float) -> str:
    if math.isnan(value):
        return "(1e309 - 1e309)"
    if math.isinf(value):
        return "(-1e309)" if value < 0 else _INF
    text = repr(value)
    return "(" + text + ")" if text.startswith("-") else text


def _same_number(a, b) -> bool:
    """Equal as numbers, with the same type, sign of zero and NaN-ness (bit-for-bit in effect)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, complex):
        return _same_number(a.real, b.real) and _same_number(a.imag, b.imag)
    if isinstance(a, float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)
    return a == b


def number_source(value) -> str:
    """Source text that parses, as an operand anywhere, to exactly ``value``."""
    if isinstance(value, int):
        text = repr(value)
        return "(" + text + ")" if value < 0 else text
    if isinstance(value, float):
        return _float_source(value)
    # complex: Python's repr is "(a+bj)" or "bj"; keep it only where it evaluates back exactly
    text = repr(value)
    if "inf" not in text and "nan" not in text:
        try:
            back = eval(text, {"__builtins__": {}})
        except Exception:           # pragma: no cover - repr of a complex always parses
            back = None
        if isinstance(back, complex) and _same_number(back, value):
            return "(" + text + ")" if text.startswith("-") else text
    return "complex(%s, %s)" % (_float_source(value.real), _float_source(value.imag))


class _ToAst(gast.ast3.GAstToAst3):
    """``gast.gast_to_ast`` with a faster generic conversion (the node classes looked up once
    per class; the location attributes copied where present, without an AttributeError for
    each one a generated node lacks).  The special cases stay gast's own."""

    _classes: dict = {}

    def _visit(self, node):
        if isinstance(node, ast.AST):
            return self.visit(node)
        if isinstance(node, list):
            return [self._visit(n) for n in node]
        return node

    def generic_visit(self, node):
        cls = node.__class__
        info = self._classes.get(cls)
        if info is None:
            info = self._classes[cls] = (getattr(ast, cls.__name__, None), cls._fields, cls._attributes)
        to, fields, attributes = info
        if to is None:          # not part of the AST (as gast's own converter)
            return None
        d = node.__dict__
        new = to(**{field: self._visit(d[field] if field in d else getattr(node, field))
                    for field in fields if field in d or hasattr(node, field)})
        for name in attributes:
            if name in d:
                setattr(new, name, d[name])
        return new


def to_source(nodes) -> str:
    """Python source of gast nodes (a node or a list of statements/functions)."""
    return source_and_lines(nodes)[0]


def source_and_lines(nodes) -> Tuple[str, List[Optional[int]]]:
    """Python source of gast nodes, and the user's line each printed line comes from (None
    where none: a ``def`` line and the code before a function's first line comment)."""
    if not isinstance(nodes, list):
        nodes = [nodes]
    module = gast.Module(body=nodes, type_ignores=[])
    out = _CountingText()
    printer = Printer(module, file=out)     # the gast tree itself (Printer reads both kinds)
    text = out.getvalue()
    events, lines_before, offset = [], 0, 0      # offsets (in order) -> lines written before them
    for at, user_line in printer.events:
        lines_before += text.count("\n", offset, at)
        offset = at
        events.append((lines_before, user_line))
    lines = [line.rstrip() for line in text.splitlines()]
    skipped = 0
    while skipped < len(lines) and not lines[skipped]:
        skipped += 1
    lines = lines[skipped:]
    table: List[Optional[int]] = []
    events = iter(events)
    event = next(events, None)
    current = None
    for i in range(len(lines)):
        while event is not None and event[0] <= i + skipped:
            current = event[1]
            event = next(events, None)
        table.append(current)
    return "\n".join(lines) + "\n", table


def expr_source(node) -> str:
    return to_source([gast.Expr(value=node)]).strip()
