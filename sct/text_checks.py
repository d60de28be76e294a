"""Numbers read back from text made of traced values.

``s = str(x); v = float(s)`` gives v the value of x, but text carries no derivative: the gradient
through v would be zero where the program's derivative is one (``float(str(x))`` is x itself).
Text of a value rounded by its format (``f"{x:.3f}"``, ``"%.2f" % x``) is a step function of x:
its zero derivative is exact, and it stays allowed.  Printing and labelling with traced values
is fine; reading full-precision text of them (``str``, ``repr``, ``f"{x}"``, ``"%s" % x``,
``"{}".format(x)``, ``format(x)``) back as a number (``float``, ``complex``, numpy's scalar types,
``np.array``, ``eval``...) into a value a traced result depends on is refused at the user's
line, saying what to write instead.
"""
from __future__ import annotations

import ast
import builtins
import decimal
import fractions
import json
import re
import string
import types
from typing import Dict, Set

import gast
import numpy as np

from .runtime.origins import module_top
from .errors import CompileError
from .ir import loaded_names, walk_no_defs, walk_nodes

# functions whose result is text made of their arguments at full precision (format: without a spec)
_TEXT_MAKERS = {builtins.str, builtins.repr, builtins.ascii, np.array2string,
                np.array_repr, np.array_str, np.format_float_positional, np.format_float_scientific}
# functions that read a number from text
_READERS = {builtins.float, builtins.complex, builtins.eval, np.float64, np.float32, np.float16,
            np.longdouble, np.complex128, np.complex64, np.array, np.asarray, np.fromstring,
            ast.literal_eval, json.loads, decimal.Decimal, fractions.Fraction}


# digits a format keeps: a precision of 15 or more keeps those a difference quotient sees (f"{x:.17g}"
# reads back as x itself), and so does a spec with no precision that is not a float type (f"{x:>12}")
_FULL_DIGITS = 15
_SPEC = re.compile(r"(?:.?[<>=^])?[-+ ]?z?#?0?\d*[,_]?(?:\.(\d+))?([a-zA-Z%]?)")


def _full_spec(spec: str) -> bool:
    """Does the format spec keep every digit of a number (``""``, ``">12"``, ``".17g"``)?"""
    m = _SPEC.fullmatch(spec)
    if m is None:
        return True
    precision, kind = m.group(1), m.group(2)
    if precision is None:
        return kind in ("", "s", "r")
    return int(precision) >= _FULL_DIGITS


def _no_spec(spec) -> bool:
    """A format spec that keeps every digit: none, an empty one, one with no rounding."""
    if spec is None:
        return True
    if isinstance(spec, gast.JoinedStr):
        if not all(isinstance(v, gast.Constant) for v in spec.values):
            return True                     # (a spec computed at run time: it may keep them)
        return _full_spec("".join(v.value for v in spec.values))
    return not isinstance(spec, gast.Constant) or not isinstance(spec.value, str) or _full_spec(spec.value)


def _full_percent(node) -> bool:
    """Does the %-format text have a %s, %r or %a conversion (the value's full repr), or a
    precision keeping every digit ("%.17g")?"""
    if not isinstance(node, gast.Constant):
        return True
    for precision, conv in re.findall(
            r"%(?:\([^)]*\))?[-#0 +]*(?:\*|\d+)?(?:\.(\*|\d+))?[hlL]?([a-zA-Z%])", node.value):
        if conv == "%":
            continue
        if conv in "sra" and not precision or precision == "*" or precision and int(precision) >= _FULL_DIGITS:
            return True
    return False


def _full_fields(node) -> bool:
    """Does the str.format text have a field keeping every digit ("{}", "{0!r}", "{:.17g}")?"""
    if not isinstance(node, gast.Constant):
        return True
    try:
        return any(field is not None and _full_spec(spec or "")
                   for _, field, spec, _ in string.Formatter().parse(node.value))
    except ValueError:
        return True


_READER_NAMES = {"float", "complex", "eval", "literal_eval", "loads", "Decimal", "Fraction", "fromstring",
                 "float64", "float32", "float16", "longdouble", "complex128", "complex64", "astype"}


def _code_names(code):
    """The global and attribute names ``code`` (and the code nested in it) reads."""
    yield from code.co_names
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            yield from _code_names(c)


def _text_dtype(node, resolved) -> bool:
    """Is ``node`` a text dtype (``str``, ``"U"``, ``np.str_``)?"""
    if isinstance(node, gast.Constant):
        return isinstance(node.value, str) and node.value.lstrip("<>=|").startswith(("U", "S", "str", "bytes", "a"))
    target = resolved(node)
    return target in (builtins.str, builtins.bytes, np.str_, np.bytes_)


def _returns_text(fn) -> bool:
    """Does the user's function ``fn`` return full-precision text of a value (``return str(y)``,
    ``return f"{y}"``), read from its source?"""
    from .parse import function_ast
    try:
        fdef, _, _ = function_ast(fn)
    except Exception:
        return False
    scope = dict(vars(builtins))
    scope.update(fn.__globals__)

    def text(v) -> bool:
        if isinstance(v, gast.JoinedStr):
            return any(isinstance(p, gast.FormattedValue) and _no_spec(p.format_spec) for p in v.values)
        if isinstance(v, gast.BinOp) and isinstance(v.op, gast.Mod) and _is_text(v.left):
            return _full_percent(v.left)
        if isinstance(v, gast.Call):
            f = v.func
            if isinstance(f, gast.Attribute) and f.attr in ("format", "format_map") and _is_text(f.value):
                return _full_fields(f.value)
            target = scope.get(f.id) if isinstance(f, gast.Name) else None
            if target is builtins.format:
                return _no_spec(v.args[1] if len(v.args) > 1 else None)
            try:
                return target in _TEXT_MAKERS
            except TypeError:
                return False
        return False
    # dicts keyed by such text (d[str(y)] = v), returned by name: a loop over them reads the text back (was:
    # the helper's keys taken for plain text in its caller, float(k) of one a constant there, red team 50)
    keyed = {n.targets[0].value.id for n in walk_no_defs(fdef)
             if isinstance(n, gast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], gast.Subscript) and
             isinstance(n.targets[0].value, gast.Name) and text(n.targets[0].slice)}
    return any(isinstance(n, gast.Return) and n.value is not None and
               (text(n.value) or keyed & set(loaded_names(n.value))) for n in walk_no_defs(fdef))


def _users_function(target) -> bool:
    """A Python function of the user's (not numpy's, sct's or a builtin)."""
    return isinstance(target, types.FunctionType) and \
        module_top(target) not in ("numpy", "sct", "sct_generated", "builtins")


def _refusal(what: str, verb: str) -> str:
    return (f"{what}: text carries no derivative, so a gradient through it would be zero, not the derivative "
            f"of your program. {verb} the value itself (np.round(x, k) for a rounded one), or "
            f"extractdata(...) of it if it must be a constant")


def _is_text(node) -> bool:
    return isinstance(node, gast.JoinedStr) or isinstance(node, gast.Constant) and isinstance(node.value, str)


def _target_names(target) -> Set[str]:
    return {n.id for n in walk_nodes(target) if isinstance(n, gast.Name)}


def check_text_numbers(fdef: gast.FunctionDef, activity, filename: str, helper: bool = False) -> None:
    """Refuse a number read from text made of a traced value when a traced value depends on it
    (or a helper, ``helper``, returns it: its caller's values may depend on it)."""
    active = activity.active
    resolver = activity.resolver

    resolved = resolver.object_of

    def member(target, table) -> bool:
        try:
            return target in table
        except TypeError:            # unhashable
            return False

    assigns, grows = [], []
    for n in walk_no_defs(fdef):
        if isinstance(n, (gast.Assign, gast.For)):
            assigns.append(n)
        elif isinstance(n, gast.Expr) and isinstance(n.value, gast.Call) and \
                isinstance(n.value.func, gast.Attribute) and isinstance(n.value.func.value, gast.Name) and \
                n.value.func.attr in ("append", "extend", "insert", "add", "update", "setdefault", "__setitem__"):
            grows.append(n)
    # names bound once, to a string constant (fmt = "{}": fmt.format(x) is "{}".format(x))
    bound: Dict[str, list] = {}
    for n in assigns:
        for name in _target_names(n.target if isinstance(n, gast.For) else n.targets[0]):
            bound.setdefault(name, []).append(n)
    constants = {name: b[0].value for name, b in bound.items() if len(b) == 1 and
                 isinstance(b[0], gast.Assign) and isinstance(b[0].targets[0], gast.Name) and
                 isinstance(b[0].value, gast.Constant) and isinstance(b[0].value.value, str)}

    def reader(call) -> bool:
        """Does the call read a number from text (float(s), s.astype(float))?"""
        func = call.func
        if isinstance(func, gast.Attribute) and func.attr == "astype":
            return not (call.args and _text_dtype(call.args[0], resolved))
        target = resolved(func)
        if _users_function(target):
            # the user's function given the text that reads numbers (its float(s) is not seen here)
            return bool(_READER_NAMES & set(_code_names(target.__code__)))
        return member(target, _READERS)

    def makes_text(value, text: Set[str]) -> bool:
        """Is ``value`` text holding a traced value at full precision (or text made from such)?"""
        reads = set(loaded_names(value))
        if reads & text:
            if isinstance(value, gast.Call):
                # a method of the text (s.strip(), s.split(",")) or text passed on: still text,
                # except where it is read back as a number (that is the check below)
                return not reader(value)
            return True                   # s[1:], s + "x", [s, t], a name
        if not reads & active:
            return False
        if isinstance(value, gast.JoinedStr):
            return any(isinstance(v, gast.FormattedValue) and set(loaded_names(v.value)) & active and
                       _no_spec(v.format_spec) for v in value.values)
        if isinstance(value, gast.BinOp) and isinstance(value.op, gast.Mod):
            template = constants.get(value.left.id) if isinstance(value.left, gast.Name) else value.left
            if _is_text(template):
                return _full_percent(template)       # "%s" % x, fmt % x (not "%.3f" % x)
        if isinstance(value, gast.Call):
            func = value.func
            if isinstance(func, gast.Attribute) and func.attr in ("format", "format_map"):
                template = constants.get(func.value.id) if isinstance(func.value, gast.Name) else func.value
                if _is_text(template):
                    return _full_fields(template)    # "{}".format(x), fmt.format_map(d) (not "{:.3f}")
            target = resolved(func)
            if target is builtins.format:
                spec = value.args[1] if len(value.args) > 1 else None
                return _no_spec(spec)
            if isinstance(func, gast.Attribute) and func.attr == "astype" and value.args:
                return _text_dtype(value.args[0], resolved)      # y.astype(str): its repr's digits
            if _users_function(target):
                return _returns_text(target)         # the user's helper returning str(y)
            return member(target, _TEXT_MAKERS)
        return False

    text: Set[str] = set()
    changed = True
    while changed:
        changed = False
        for s in grows:          # parts.append(str(y)): the list holds text
            base = s.value.func.value.id
            if base not in text and set(loaded_names(s.value)) & text:
                text.add(base)
                changed = True
        for s in assigns:
            value = s.iter if isinstance(s, gast.For) else s.value
            targets = _target_names(s.target if isinstance(s, gast.For) else s.targets[0])
            if targets - text and makes_text(value, text):
                text |= targets
                changed = True
            elif isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Subscript):
                # d[str(x)] = 1.0: the container holds text as a key (its keys, read back by a loop over d,
                # are text; was: only a value stored that was text marked it, the gradient through
                # float(k) of such a key lost, red team 50)
                base = _target_names(s.targets[0].value)
                if base - text and makes_text(s.targets[0].slice, text):
                    text |= base
                    changed = True
    if not text:
        return
    # numbers read from that text, and the values computed from them
    read_at: Dict[str, int] = {}
    for s in assigns:
        if isinstance(s, gast.Assign) and isinstance(s.value, gast.Call) and \
                set(loaded_names(s.value)) & text and reader(s.value):
            for name in _target_names(s.targets[0]):
                read_at.setdefault(name, getattr(s, "lineno", fdef.lineno))
    numbers = set(read_at)
    changed = True
    while changed:
        changed = False
        for s in assigns:
            if isinstance(s, gast.Assign) and set(loaded_names(s.value)) & numbers:
                new = _target_names(s.targets[0]) - numbers
                if new:
                    for name in new:
                        origin = next(iter(set(loaded_names(s.value)) & numbers))
                        read_at.setdefault(name, read_at[origin])
                    numbers |= new
                    changed = True
    if helper:
        for s in walk_no_defs(fdef):
            if isinstance(s, gast.Return) and s.value is not None and set(loaded_names(s.value)) & numbers:
                name = sorted(set(loaded_names(s.value)) & numbers)[0]
                raise CompileError(_refusal(f"{fdef.name}() returns a number read back from text made of a "
                                            f"traced value (line {read_at[name]})", "Return"),
                                   filename, getattr(s, "lineno", fdef.lineno), "a number read from text")
    for s in assigns:
        if not isinstance(s, gast.Assign):
            continue
        used = set(loaded_names(s.value)) & numbers
        if used and _target_names(s.targets[0]) & active and \
                not isinstance(s.value, (gast.Tuple, gast.List, gast.Dict)):   # (returned beside it)
            name = sorted(used)[0]
            line = read_at[name]
            raise CompileError(_refusal(f"a number is read back from text made of a traced value (line {line}) "
                                        "and a traced value depends on it here", "Use"),
                               filename, getattr(s, "lineno", fdef.lineno), "a number read from text")
