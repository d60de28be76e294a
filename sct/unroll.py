"""Unrolling of the ``for i in range(...)`` loops around a gradient that is differentiated again.

A ``dlgradient`` inside a loop whose result a later ``dlgradient`` differentiates (a few steps of
gradient descent differentiated through, as in meta-learning) has no second-order sweep in a loop
(sct/reverse.py refuses it); written out step by step the same code has one per step.  Where every
loop around such a site is ``for name in range(a[, b[, c]])`` with constant integer bounds, at most
``MAX_TRIPS`` steps (a literal, or a global or closure int the compiled code is guarded on), and a body Python runs to its end each time (no ``break``, ``continue``,
``return`` or ``yield`` of its own), the loop is replaced by its body once per step, each after
``name = value``: what Python runs, in the same order.  Anything else is left to the refusal.
"""
from __future__ import annotations

import copy
import threading
from contextlib import contextmanager
from typing import Callable, List, Optional

import gast
import numpy as np

from .errors import CompileError
from .ir import assign, const, constant_int

MAX_TRIPS = 64
_DEFS = (gast.FunctionDef, gast.AsyncFunctionDef, gast.Lambda, gast.ClassDef)


class NotUnrolled(Exception):
    """A loop around the site cannot be written out step by step."""


@contextmanager
def refused_site(line):
    """A CompileError raised inside refuses the site on ``line``, which writing out the loops around it
    may let through: compile_function's retry (``site_line_of``) compiles again with them written out."""
    try:
        yield
    except CompileError as error:
        error.loop_site_line = line
        raise


def site_line_of(error) -> Optional[int]:
    """The line of the site a refusal (``refused_site``) named, else None."""
    return getattr(error, "loop_site_line", None)


def unroll_loops_around(fdef, lines, known: Optional[Callable[[str], Optional[int]]] = None) -> None:
    """Write out the loops of ``fdef`` around each of ``lines`` (the lines of the sites), in place;
    NotUnrolled where none holds one of them or one of them cannot be.  ``known(name)``: the int a
    bound of ``range`` written as a name stands for (a global's, a closure's), else None."""
    for line in lines:
        if not _unroll(fdef.body, line, known):
            raise NotUnrolled(line)


def _unroll(body: List, line: int, known=None) -> bool:
    """Unroll the loops in ``body`` whose lines hold ``line``; whether one was found."""
    found = False
    i = 0
    while i < len(body):
        s = body[i]
        if isinstance(s, _DEFS) or not _holds(s, line):
            i += 1
            continue
        if not hasattr(s, "body") and _unroll_comprehensions(s, line, known):
            found = True
            i += 1
            continue
        if isinstance(s, (gast.For, gast.AsyncFor, gast.While)):
            steps = _steps(s, known)
            if steps is None:
                raise NotUnrolled(line)
            out: List = []
            for value in steps:
                out.append(gast.copy_location(assign(s.target.id, const(value)), s))
                out.extend(_named_getattrs(copy.deepcopy(s.body), s.target.id, value))
            body[i:i + 1] = out
            found = True
            continue            # (the copies are walked next: the loops inside them around the line)
        for field in ("body", "orelse", "finalbody", "handlers", "cases"):
            block = getattr(s, field, None)
            if isinstance(block, list):
                for part in block:
                    if isinstance(part, (gast.ExceptHandler, gast.match_case)):
                        found = _unroll(part.body, line, known) or found
                if block and isinstance(block[0], gast.stmt):
                    found = _unroll(block, line, known) or found
        i += 1
    return found


def _named_getattrs(body: List, name: str, value) -> List:
    """``body`` (a step's copy, run after ``name = value``) with the attribute name of each
    ``getattr(obj, f"fc{name}")`` / ``"fc%d" % name`` / ``"fc" + str(name)`` / ``name`` that reads no
    other name written as the string it is (the normalizer reads ``obj.fc0`` then); left as it is
    where the body (outside nested functions) assigns ``name`` itself."""
    stores = [n for s in body for n in _walk_scope(s) if isinstance(n, gast.Name) and n.id == name and
              not isinstance(n.ctx, gast.Load)]
    if stores:
        return body
    for s in body:
        for n in _walk_scope(s):
            if not (isinstance(n, gast.Call) and isinstance(n.func, gast.Name) and n.func.id == "getattr" and
                    len(n.args) in (2, 3) and not n.keywords):
                continue
            spelled = n.args[1]
            names = {m.id for m in gast.walk(spelled) if isinstance(m, gast.Name)}
            if isinstance(spelled, gast.Constant) or name not in names or not names <= {name, "str"} or \
                    any(isinstance(m, gast.Call) and not (isinstance(m.func, gast.Name) and m.func.id == "str")
                        for m in gast.walk(spelled)):
                continue
            try:
                attr = eval(compile(gast.unparse(spelled), "<name>", "eval"), {"__builtins__": {"str": str}},
                            {name: value})
            except Exception:
                continue
            if isinstance(attr, str) and attr.isidentifier():
                n.args[1] = gast.copy_location(const(attr), spelled)
    return body


def _walk_scope(node):
    """The nodes of ``node`` outside nested functions, classes and comprehensions (their names are their own,
    or read late)."""
    todo = [node]
    while todo:
        n = todo.pop()
        yield n
        todo.extend(c for c in gast.iter_child_nodes(n) if not isinstance(c, _SCOPES))


def _holds(s, line: int) -> bool:
    end = getattr(s, "end_lineno", None)
    return getattr(s, "lineno", None) is not None and end is not None and s.lineno <= line <= end


def _steps(loop, known=None) -> Optional[range]:
    """The values of a ``for name in range(constants)`` loop that Python runs to the end of its body
    each time, else None."""
    if not (isinstance(loop, gast.For) and isinstance(loop.target, gast.Name) and not loop.orelse):
        return None
    steps = _constant_range(loop.iter, known)
    if steps is None and isinstance(loop.iter, (gast.Tuple, gast.List)) and len(loop.iter.elts) <= MAX_TRIPS and \
            all(isinstance(e, gast.Constant) and type(e.value) in (str, int) for e in loop.iter.elts):
        # `for name in ("fc1", "fc2"):` (the items Python walks, in order)
        steps = [e.value for e in loop.iter.elts]
    if steps is None or _leaves_early(loop.body):
        return None
    return steps


def _constant_range(it, known=None) -> Optional[range]:
    """``range(constants)`` of at most MAX_TRIPS values, written so (or as names ``known`` knows); else
    None."""
    if not (isinstance(it, gast.Call) and isinstance(it.func, gast.Name) and it.func.id == "range" and
            not it.keywords and 1 <= len(it.args) <= 3):
        return None
    bounds = [_int_of(a, known) for a in it.args]
    if any(b is None for b in bounds) or (len(bounds) == 3 and bounds[2] == 0):
        return None
    steps = range(*bounds)
    return steps if len(steps) <= MAX_TRIPS else None


_INT_OPS = {gast.Add: int.__add__, gast.Sub: int.__sub__, gast.Mult: int.__mul__, gast.FloorDiv: int.__floordiv__}


def _int_of(node, known) -> Optional[int]:
    """The int ``node`` is: a literal, a name ``known`` knows, or ``+ - * //`` of those (``steps + 1``)."""
    if isinstance(node, gast.Name):
        return known(node.id) if known is not None else None
    if isinstance(node, gast.BinOp) and type(node.op) in _INT_OPS:
        a, b = _int_of(node.left, known), _int_of(node.right, known)
        if a is None or b is None or (isinstance(node.op, gast.FloorDiv) and b == 0):
            return None
        return _INT_OPS[type(node.op)](a, b)
    return constant_int(node)


def _leaves_early(body: List) -> bool:
    """Does ``body`` (a loop's) hold a ``return``, ``yield``, ``global``/``nonlocal`` or a ``break``/
    ``continue`` of this loop (one of a loop inside it is its own)?"""
    todo = [(s, False) for s in body]
    while todo:
        node, nested_loop = todo.pop()
        if isinstance(node, (gast.Return, gast.Yield, gast.YieldFrom, gast.Global, gast.Nonlocal)):
            return True
        if isinstance(node, (gast.Break, gast.Continue)) and not nested_loop:
            return True
        if isinstance(node, _DEFS):
            continue
        inner = nested_loop or isinstance(node, (gast.For, gast.AsyncFor, gast.While))
        todo.extend((child, inner) for child in gast.iter_child_nodes(node))
    return False


def _unroll_comprehensions(stmt, line: int, known=None) -> bool:
    """Write out, in the simple statement ``stmt``, each list comprehension ``[e for i in range(3)]``
    around ``line`` as the list ``[e(i=0), e(i=1), e(i=2)]`` (Python evaluates the items in that
    order; the comprehension's ``i`` is its own, so nothing outside reads it): the Hessian rows
    ``np.stack([dlgradient(g[i], x) for i in range(3)])`` then have a sweep each, as the written-out
    for loop has.  Only one ``for`` over a constant range, no ``if``, and an item without nested
    functions or comprehensions (a lambda there would read ``i`` late: Python's last value); whether
    one was written out."""
    found = False

    class Writer(gast.NodeTransformer):
        def visit_ListComp(self, node):
            nonlocal found
            self.generic_visit(node)
            if not _holds(node, line) or len(node.generators) != 1:
                return node
            gen = node.generators[0]
            if gen.ifs or getattr(gen, "is_async", 0) or not isinstance(gen.target, gast.Name):
                return node
            steps = _constant_range(gen.iter, known)
            if steps is None or any(isinstance(n, _SCOPES) for n in gast.walk(node.elt)):
                return node
            name = gen.target.id
            items = []
            for value in steps:
                item = copy.deepcopy(node.elt)
                for n in list(gast.walk(item)):
                    for field, old in gast.iter_fields(n):
                        if isinstance(old, gast.Name) and old.id == name:
                            setattr(n, field, gast.copy_location(const(value), old))
                        elif isinstance(old, list):
                            old[:] = [gast.copy_location(const(value), e)
                                      if isinstance(e, gast.Name) and e.id == name else e for e in old]
                if isinstance(item, gast.Name) and item.id == name:
                    item = gast.copy_location(const(value), item)
                items.append(item)
            found = True
            return gast.copy_location(gast.List(elts=items, ctx=gast.Load()), node)

    Writer().visit(stmt)
    return found


_SCOPES = _DEFS + (gast.ListComp, gast.SetComp, gast.DictComp, gast.GeneratorExp)


# --- int arguments as loop bounds ---------------------------------------------------------------
# ``for i in range(nsteps)`` around such a site, ``nsteps`` an int argument of the function dlfeval (or
# an AcceleratedFunction) runs: written out for the value given, the compiled entry kept for that value
# only (its cache key and its hit check hold it: sct.api, sct.accelerate).  The code objects whose
# parameters are read so: VALUE_PARAMS; the values the current compilation of that code reads: _STATE.
VALUE_PARAMS: dict = {}
_STATE = threading.local()


def _int_value(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def param_values(fn, args, names) -> tuple:
    """``((index, name, value, type), ...)`` for the parameters ``names`` of ``fn`` given an int by
    position in ``args``."""
    code = getattr(fn, "__code__", None)
    out = []
    for name in sorted(names):
        if code is None or name not in code.co_varnames[:code.co_argcount]:
            continue
        i = code.co_varnames.index(name)
        defaults = getattr(fn, "__defaults__", None) or ()
        first_default = code.co_argcount - len(defaults)
        value = args[i] if i < len(args) else defaults[i - first_default] if i >= first_default else None
        if _int_value(value):       # (a default's value: the code's guards hold fn.__defaults__)
            out.append((i, name, int(value), type(value)))
    return tuple(out)


def entry_values(fn, args) -> tuple:
    """``param_values`` of the parameters an earlier compilation of ``fn`` wrote loops out for."""
    names = VALUE_PARAMS.get(getattr(fn, "__code__", None))
    return param_values(fn, args, names) if names else ()


def values_key(values: tuple) -> tuple:
    """What a cache key adds for ``values`` (nothing for none)."""
    return (("int values",) + tuple((i, v) for i, _, v, _ in values),) if values else ()


def known_param(fn, name: str) -> Optional[int]:
    """The value a compilation of ``fn``'s entry with values (``compile_entry``) gives the parameter
    ``name``; None where it gives none (noted: ``compile_entry`` may compile again with it)."""
    held = getattr(_STATE, "held", None)
    if held is None or held[0] is not getattr(fn, "__code__", None):
        return None
    if name in held[1]:
        return held[1][name]
    held[2].add(name)
    return None


def compile_entry(fn, args, compile_it) -> tuple:
    """``(compile_it(), values)``: compiled with the int parameters of ``fn`` whose values a loop around a
    site needs written out (``values``: ``param_values``, () for none), compiled again with their values
    where a first compilation without them was refused."""
    values = entry_values(fn, args)
    saved = getattr(_STATE, "held", None)
    code = getattr(fn, "__code__", None)
    _STATE.held = (code, {name: v for _, name, v, _ in values}, set())
    try:
        try:
            compiled = compile_it()
        except CompileError as error:
            wanted = _STATE.held[2]
            more = param_values(fn, args, wanted | {name for _, name, _, _ in values}) if wanted else ()
            if len(more) <= len(values):
                _raise_noted(error, values)
            values = more
            VALUE_PARAMS[code] = frozenset(name for _, name, _, _ in values)
            _STATE.held = (code, {name: v for _, name, v, _ in values}, set())
            try:
                compiled = compile_it()
            except CompileError as again:
                _raise_noted(again, values)
    finally:
        _STATE.held = saved
    compiled.param_values = values
    return compiled, values


def _raise_noted(error, values: tuple):
    """Raise ``error``, with the limit of the steps said where an int argument's value is over it."""
    big = [(name, v) for _, name, v, _ in values if v > MAX_TRIPS]
    if not big:
        raise error         # (its own cause kept: an internal error's)
    message = str(error)
    prefix = f"{error.filename}, line {error.lineno}: "
    raise CompileError((message[len(prefix):] if message.startswith(prefix) else message) +
                       f". Note too: sct writes a loop around such a gradient out step by step for the value of its "
                       f"bound, at most {MAX_TRIPS} steps ({big[0][0]} = {big[0][1]} here); move the step into a "
                       f"helper function (the dlgradient inside it)", error.filename, error.lineno, error.construct) from None


def values_check_lines(values: tuple, consts: dict) -> List[str]:
    """The lines of a hit check (sct.api._hit_parts) that the arguments hold ``values``."""
    lines = []
    for i, _, value, cls in values:     # (an argument left to its default: the kinds hold how many are given)
        consts[f"VALUE_TYPE_{i}"] = cls
        lines.append(f"    if len(args) > {i} and (type(args[{i}]) is not VALUE_TYPE_{i} or args[{i}] != {value}): "
                     f"return None")
    return lines
