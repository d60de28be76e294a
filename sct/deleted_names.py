"""``del name`` followed by a read of the name: refused (``sct.normalize`` runs it where a function
deletes a name).

sct lowers ``del name`` to nothing (unbinding a name changes no value), so a read of the name after
it saw the old value where Python raises ``UnboundLocalError`` (or ``NameError``, which an
``except NameError:`` may catch and go on: a silent wrong value and gradient).  This pass follows,
through the function's branches and loops, which names a ``del`` may have unbound on some path to
each statement, and refuses a read of one (a read in an expression, ``y += v``, ``y[i] = v``, a
second ``del y``) with the lines of the read and of the ``del``.  A name bound again (``y = ...``,
a loop's target, ``with ... as y``, ``y := ...``) before it is read is bound as in Python, so
``del h`` at the end of a loop body that binds ``h`` anew each time is accepted.  A name that a
nested function, lambda or generator expression reads is refused at its ``del`` (the call may come
after it).
"""
from __future__ import annotations

from typing import Dict, List, Optional

import gast

from .ir import statements_no_defs

State = Optional[Dict[str, int]]        # a name a del may have unbound -> that del's line; None: unreachable

_SCOPES = (gast.FunctionDef, gast.AsyncFunctionDef, gast.Lambda, gast.ClassDef)
_COMPREHENSIONS = (gast.ListComp, gast.SetComp, gast.DictComp, gast.GeneratorExp)
# builtins that walk a generator expression given to them to its end before they return
_EAGER = frozenset(("sum", "any", "all", "min", "max", "sorted", "list", "tuple", "set", "frozenset", "dict"))


def has_deleted_names(stmts) -> bool:
    """Does a ``del name`` appear in ``stmts`` (outside nested defs)?  (The statements of
    ``_walk_here``'s walk, found without walking the expressions, which hold none.)"""
    return any(isinstance(n, gast.Delete) and any(isinstance(t, gast.Name) for t in n.targets)
               for s in stmts for n in statements_no_defs(s))


def check_deleted_reads(stmts: List, fail) -> None:
    """Refuse (``fail(node, construct, advice)``) a read of a name that a ``del`` before it may
    have unbound, and a ``del`` of a name that a nested function reads."""
    deleted = {t.id: n for s in stmts for n in _walk_here(s) if isinstance(n, gast.Delete)
               for t in n.targets if isinstance(t, gast.Name)}
    if not deleted:
        return
    captured = set()
    eager = set()                 # generator expressions walked where they are made: sum(v for v in h)
    for s in stmts:
        for n in _walk_here(s, into_scopes=True):
            if isinstance(n, gast.Call) and isinstance(n.func, gast.Name) and n.func.id in _EAGER:
                eager |= {id(a) for a in n.args if isinstance(a, gast.GeneratorExp)}
    for s in stmts:
        for n in _walk_here(s, into_scopes=True):
            if isinstance(n, _SCOPES) or isinstance(n, gast.GeneratorExp) and id(n) not in eager:
                captured |= {m.id for m in gast.walk(n) if isinstance(m, gast.Name)}
    for name, node in deleted.items():
        if name in captured:
            fail(node, f"`del {name}` of a name a nested function, lambda or generator expression reads",
                 f"Python raises NameError where it reads {name} after the del, and sct does not model del "
                 f"of a name: remove the del (or give the nested function {name} as an argument)")
    _Flow(fail).block(stmts, {})


def _walk_here(node, into_scopes: bool = False):
    """The nodes of ``node``, not entering nested defs, lambdas and classes (which are yielded)."""
    todo = [node]
    while todo:
        n = todo.pop()
        yield n
        if n is not node and isinstance(n, _SCOPES) and not into_scopes:
            continue
        todo.extend(gast.iter_child_nodes(n))


def _union(*states: State) -> State:
    out = None
    for s in states:
        if s is None:
            continue
        if out is None:
            out = dict(s)
        else:
            for k, v in s.items():
                out.setdefault(k, v)
    return out


class _Flow:
    def __init__(self, fail):
        self.fail = fail
        self.loops: List[tuple] = []          # (breaks, continues): the states at each, innermost last
        self.line = None                      # the line of the statement being followed

    # --- expressions ------------------------------------------------------------------------
    def reads(self, node, state: State, bound=frozenset()) -> None:
        """Refuse a read in ``node`` of a name of ``state`` (``bound``: names a comprehension or a
        lambda binds itself there); then bind the names a ``:=`` in it binds."""
        if node is None or state is None:
            return
        stores = []
        self._reads(node, state, bound, stores)
        for name in stores:
            state.pop(name, None)

    def _reads(self, node, state, bound, stores) -> None:
        if isinstance(node, gast.Name):
            if isinstance(node.ctx, gast.Load) and node.id not in bound and node.id in state:
                self.refuse(node, node.id, state[node.id])
            elif isinstance(node.ctx, gast.Store) and node.id not in bound:
                stores.append(node.id)           # (a := target)
            return
        if isinstance(node, gast.Lambda):
            args = node.args
            params = {a.id for a in args.posonlyargs + args.args + args.kwonlyargs + [args.vararg, args.kwarg]
                      if isinstance(a, gast.Name)}
            for d in args.defaults + [d for d in args.kw_defaults if d is not None]:
                self._reads(d, state, bound, stores)
            self._reads(node.body, state, bound | params, [])
            return
        if isinstance(node, _COMPREHENSIONS):
            own = {m.id for g in node.generators for m in gast.walk(g.target) if isinstance(m, gast.Name)}
            for g in node.generators:
                self._reads(g.iter, state, bound | own, [])
                for c in g.ifs:
                    self._reads(c, state, bound | own, [])
            for part in ("elt", "key", "value"):
                if getattr(node, part, None) is not None:
                    self._reads(getattr(node, part), state, bound | own, [])
            return
        for child in gast.iter_child_nodes(node):
            self._reads(child, state, bound, stores)

    def refuse(self, node, name: str, line: int) -> None:
        if getattr(node, "lineno", None) is None:
            node = gast.Pass()
            node.lineno = self.line             # (a name lowered code made: its statement's line)
        self.fail(node, f"a read of `{name}` after `del {name}` (line {line})",
                  f"Python raises UnboundLocalError where `del {name}` has unbound it, and sct does not "
                  f"model del of a name (it would read the old value): bind {name} again before reading it, "
                  f"or remove the del")

    @staticmethod
    def bind(target, state: State) -> None:
        if state is None:
            return
        for n in gast.walk(target):
            if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store):
                state.pop(n.id, None)

    def target(self, target, state: State) -> None:
        """An assignment target: the items and attributes it writes into are read, its names bound."""
        if isinstance(target, gast.Name):
            self.bind(target, state)
        elif isinstance(target, (gast.Tuple, gast.List)):
            for e in target.elts:
                self.target(e, state)
        elif isinstance(target, gast.Starred):
            self.target(target.value, state)
        else:
            self.reads(target, state)

    # --- statements -------------------------------------------------------------------------
    def block(self, stmts: List, state: State) -> State:
        for s in stmts:
            if state is None:
                return None                      # (unreachable: after a return, raise, break or continue)
            state = self.stmt(s, state)
        return state

    def stmt(self, s, state: Dict[str, int]) -> State:
        self.line = getattr(s, "lineno", self.line)
        if isinstance(s, gast.Delete):
            for t in s.targets:
                if isinstance(t, gast.Name):
                    if t.id in state:
                        self.refuse(t, t.id, state[t.id])
                    state[t.id] = s.lineno
                else:
                    self.reads(t, state)
            return state
        if isinstance(s, (gast.Assign, gast.AnnAssign)):
            self.reads(s.value, state)
            for t in (s.targets if isinstance(s, gast.Assign) else [s.target]):
                if s.value is not None or not isinstance(t, gast.Name):
                    self.target(t, state)
            return state
        if isinstance(s, gast.AugAssign):
            self.reads(s.value, state)
            if isinstance(s.target, gast.Name):
                if s.target.id in state:
                    self.refuse(s.target, s.target.id, state[s.target.id])
            else:
                self.reads(s.target, state)
            return state
        if isinstance(s, (gast.Return, gast.Raise)):
            for part in ("value", "exc", "cause"):
                self.reads(getattr(s, part, None), state)
            return None
        if isinstance(s, (gast.Break, gast.Continue)):
            if self.loops:
                self.loops[-1][0 if isinstance(s, gast.Break) else 1].append(dict(state))
            return None
        if isinstance(s, gast.If):
            self.reads(s.test, state)
            return _union(self.block(s.body, dict(state)), self.block(s.orelse, dict(state)))
        if isinstance(s, (gast.For, gast.AsyncFor, gast.While)):
            return self.loop(s, state)
        if isinstance(s, (gast.With, gast.AsyncWith)):
            for item in s.items:
                self.reads(item.context_expr, state)
                if item.optional_vars is not None:
                    self.target(item.optional_vars, state)
            return self.block(s.body, state)
        if isinstance(s, gast.Try) or type(s).__name__ == "TryStar":
            return self.try_(s, state)
        if isinstance(s, gast.Match):
            self.reads(s.subject, state)
            outs = [dict(state)]
            for case in s.cases:
                inner = dict(state)
                for n in gast.walk(case.pattern):
                    if isinstance(n, gast.MatchValue):
                        self.reads(n.value, inner)
                    name = getattr(n, "name", None)
                    if isinstance(n, (gast.MatchAs, gast.MatchStar)) and name:
                        inner.pop(name, None)
                self.reads(case.guard, inner)
                outs.append(self.block(case.body, inner))
            return _union(*outs)
        if isinstance(s, (gast.FunctionDef, gast.AsyncFunctionDef, gast.ClassDef)):
            for d in s.decorator_list:
                self.reads(d, state)
            if not isinstance(s, gast.ClassDef):
                for d in s.args.defaults + [d for d in s.args.kw_defaults if d is not None]:
                    self.reads(d, state)
            state.pop(s.name, None)
            return state
        if isinstance(s, (gast.Import, gast.ImportFrom)):
            for alias in s.names:
                state.pop((alias.asname or alias.name).split(".")[0], None)
            return state
        if isinstance(s, (gast.Global, gast.Nonlocal, gast.Pass)):
            return state
        self.reads(s, state)                     # Expr, Assert, ...
        return state

    def loop(self, s, state: Dict[str, int]) -> State:
        if not isinstance(s, gast.While):
            self.reads(s.iter, state)
        head = dict(state)
        while True:
            inner = dict(head)
            if isinstance(s, gast.While):
                self.reads(s.test, inner)
            else:
                self.target(s.target, inner)
            self.loops.append(([], []))
            out = self.block(s.body, inner)
            breaks, continues = self.loops.pop()
            new_head = _union(head, out, *continues)
            if new_head == head:
                break
            head = new_head
        after_test = dict(head)
        if isinstance(s, gast.While):
            self.reads(s.test, after_test)
        return _union(self.block(s.orelse, after_test), *breaks)

    def try_(self, s, state: Dict[str, int]) -> State:
        seen = [dict(state)]
        current: State = dict(state)
        for st in s.body:
            if current is None:
                break
            current = self.stmt(st, current)
            if current is not None:
                seen.append(dict(current))
        entry = _union(*seen)
        outs = [self.block(s.orelse, current)]
        for h in s.handlers:
            inner = dict(entry)
            self.reads(h.type, inner)
            if h.name is not None:
                self.bind(h.name, inner) if not isinstance(h.name, str) else inner.pop(h.name, None)
            outs.append(self.block(h.body, inner))
        after = _union(*outs)
        if s.finalbody:
            return self.block(s.finalbody, _union(after, entry)) if after is not None else \
                (self.block(s.finalbody, entry) and None)
        return after
