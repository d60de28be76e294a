"""``match`` statements as ``if`` blocks, before the rest of normalization (``sct.normalize``).

The subject is evaluated once into a name; each case becomes ``if not matched:`` around the
pattern's test (``and`` of comparisons, so a length is checked before an item is read), the
names the pattern binds, and ``if guard:`` with ``matched = True`` and the case's body -- what
Python runs.  Value, singleton, capture, wildcard, ``|`` (without captures) and sequence
patterns (``[a, *rest]``, nested) are lowered; mapping and class patterns are refused.
"""
from __future__ import annotations

import copy
from typing import List, Tuple

import gast

from .ir import assign, call, const, load


def lower_match(stmts: List, namer, fail, rt_name: str = "rt") -> List:
    """``stmts`` with every ``match`` in them (and in the blocks and nested defs inside them)
    written as ``if`` blocks."""
    result = []
    for st in stmts:
        if isinstance(st, gast.ClassDef):
            result.append(st)
            continue
        if isinstance(st, (gast.FunctionDef, gast.AsyncFunctionDef)):
            if any(isinstance(n, gast.Match) for n in gast.walk(st)):
                st = _copy(st)      # a nested def is printed as Python before it is lowered
                st.body = lower_match(st.body, namer, fail, rt_name)
            result.append(st)
            continue
        if isinstance(st, gast.Match):
            result.extend(_lowered(st, namer, fail, rt_name))
            continue
        if any(isinstance(getattr(st, f, None), list) for f in ("body", "orelse", "finalbody", "handlers")):
            st = _copy(st)
            for field in ("body", "orelse", "finalbody"):
                if isinstance(getattr(st, field, None), list):
                    setattr(st, field, lower_match(getattr(st, field), namer, fail, rt_name))
            if isinstance(getattr(st, "handlers", None), list):
                handlers = []
                for h in st.handlers:
                    h = _copy(h)
                    h.body = lower_match(h.body, namer, fail, rt_name)
                    handlers.append(h)
                st.handlers = handlers
        result.append(st)
    return result


def _copy(node):
    return copy.copy(node)


def _lowered(st, namer, fail, rt_name: str) -> List:
    line = st.lineno
    subject = namer.fresh("subject")
    matched = namer.fresh("matched")
    out = [assign(subject, st.subject, line), assign(matched, const(False), line)]
    for case in st.cases:
        tests: List = []
        binds: List[Tuple[str, gast.AST]] = []
        _pattern(case.pattern, load(subject), tests, binds, fail, rt_name)
        inner = [assign(matched, const(True), line)] + lower_match(case.body, namer, fail, rt_name)
        first = case.body[0] if case.body else st
        if case.guard is not None:
            inner = [gast.copy_location(gast.If(test=case.guard, body=inner, orelse=[]), case.guard)]
        block = [gast.copy_location(assign(name, value), case.pattern) for name, value in binds] + inner
        if tests:
            test = tests[0] if len(tests) == 1 else gast.BoolOp(op=gast.And(), values=tests)
            block = [gast.copy_location(gast.If(test=test, body=block, orelse=[]), case.pattern)]
        block = copy.deepcopy(block)       # (the subject's expressions appear more than once)
        guard = gast.UnaryOp(op=gast.Not(), operand=load(matched))
        node = gast.If(test=guard, body=block, orelse=[])
        node.lineno = getattr(case.pattern, "lineno", first.lineno)
        out.append(node)
    for node in out:
        if not hasattr(node, "lineno"):
            node.lineno = line
    return out


def _pattern(p, subject, tests: List, binds: List, fail, rt_name: str) -> None:
    """The tests (in order) and bindings of pattern ``p`` on the expression ``subject``."""
    if isinstance(p, gast.MatchValue):
        tests.append(gast.Compare(left=subject, ops=[gast.Eq()], comparators=[p.value]))
    elif isinstance(p, gast.MatchSingleton):
        tests.append(gast.Compare(left=subject, ops=[gast.Is()], comparators=[const(p.value)]))
    elif isinstance(p, gast.MatchAs):
        if p.pattern is not None:
            _pattern(p.pattern, subject, tests, binds, fail, rt_name)
        if p.name is not None:
            binds.append((p.name, subject))
    elif isinstance(p, gast.MatchOr):
        options = []
        for option in p.patterns:
            option_tests: List = []
            option_binds: List = []
            _pattern(option, subject, option_tests, option_binds, fail, rt_name)
            if option_binds:
                fail(p, "a match pattern with | that binds names", "write a case for each alternative")
            if not option_tests:
                return            # an irrefutable alternative: the whole pattern matches
            options.append(option_tests[0] if len(option_tests) == 1 else
                           gast.BoolOp(op=gast.And(), values=option_tests))
        tests.append(gast.BoolOp(op=gast.Or(), values=options))
    elif isinstance(p, gast.MatchSequence):
        stars = [i for i, q in enumerate(p.patterns) if isinstance(q, gast.MatchStar)]
        count = len(p.patterns) - len(stars)
        tests.append(call(f"{rt_name}.match_sequence", [subject]))
        length = call("len", [subject])
        tests.append(gast.Compare(left=length, ops=[gast.GtE() if stars else gast.Eq()],
                                  comparators=[const(count)]))
        star = stars[0] if stars else None
        after = len(p.patterns) - 1 - star if stars else 0
        for i, q in enumerate(p.patterns):
            if isinstance(q, gast.MatchStar):
                if q.name is not None:
                    upper = gast.BinOp(left=call("len", [subject]), op=gast.Sub(), right=const(after))
                    part = gast.Subscript(value=subject, slice=gast.Slice(lower=const(i), upper=upper, step=None),
                                          ctx=gast.Load())
                    binds.append((q.name, call("list", [part])))
                continue
            index = const(i) if star is None or i < star else const(i - len(p.patterns))
            item = gast.Subscript(value=subject, slice=index, ctx=gast.Load())
            _pattern(q, item, tests, binds, fail, rt_name)
    else:
        kind = {gast.MatchMapping: "a mapping pattern", gast.MatchClass: "a class pattern"}.get(type(p), "this pattern")
        fail(p, f"{kind} in a match statement", "test the value with if/elif")
