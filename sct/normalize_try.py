"""``try`` statements as ``if`` blocks, before the rest of normalization (``sct.normalize``).

sct's generated code catches nothing: a ``try`` is lowered to the statements Python runs.

* ``try: BODY finally: FIN`` is ``BODY; FIN`` -- what Python runs when BODY raises nothing.  When it
  raises, Python runs FIN and the exception goes on: the caller gets the error either way, and FIN
  must then be *local* (it binds the function's names and calls only pure functions: nothing it
  does can be seen once the exception has left the function), or the ``try`` is refused.
* ``try: BODY except E1: H1 ... [else: ELSE] [finally: FIN]``: whether BODY raises, and which
  handler takes it, is decided when the code runs by a *probe*: BODY run first, in plain Python on
  the values its names hold there, inside a real ``try`` (``rt.try_probe``, which returns the
  number of the handler that caught the exception, 0 where none was raised; one it does not
  catch goes on to the caller).  Then ``if branch == 0: BODY; ELSE`` / ``elif branch == 1: H1``
  ... follow, differentiated like any ``if``, and FIN after them.  Running BODY twice is running it
  once only where BODY is pure and deterministic: it may bind names (plain or tuples of them),
  ``assert``, ``raise``, and use ``if``/``for``/``while`` blocks of such, with expressions that read
  names, items and attributes and call pure functions (numpy's and math's, builtins such as len,
  float, min; methods that do not change their object, such as ``x.sum()``, ``d.get(k)``; module-level
  functions of the user's that only compute a value: ``quiet_pure_function``); anything
  else (a write into an array or object, a method that may change it, a random draw, a call of
  another function of the user's, ``return``/``break``/``continue`` leaving the ``try``, a nested ``try``)
  is refused (so is ``+=``, and ``out`` given to a numpy function by keyword or position).
  Python's handler sees what the statements of BODY before the one that raised had bound: the
  probe numbers them, and the handler's branch first runs those again (``if try_step > m:``
  statement m); a loop or ``if`` block of BODY that binds names and raises partway cannot be
  replayed so: refused when that happens.  When the code runs, ``rt.try_probe`` also refuses
  values of other types than arrays, numbers, strings and plain containers of them, but for the
  objects of which BODY reads only attributes, each a plain one (no property: reading it changes
  nothing).  A nested def's ``try`` is lowered with it.  A ``return expr`` closing BODY (without
  finally: ``try: return np.linalg.solve(A, b)``) is probed as ``expr`` and returned in BODY's branch;
  a ``break``/``continue`` closing BODY (without finally: ``try: L = cholesky(A + j * I); break``) ends
  BODY's branch, the probe running what comes before it.
"""
from __future__ import annotations

import ast
import builtins
import copy
import types
from typing import Dict, List, Optional, Set

import gast
import numpy as np

from .errors import CompileError
from .ir import assign, call, const, dotted_name, load, pattern_captures, walk_no_defs, walk_nodes

# builtins that only compute a value from their arguments (and exception classes, below)
PURE_BUILTINS = frozenset((
    "abs", "all", "any", "bool", "chr", "complex", "dict", "divmod", "enumerate", "float", "format",
    "frozenset", "getattr", "hasattr", "int", "isinstance", "issubclass", "len", "list", "max",
    "min", "ord", "pow", "range", "repr", "reversed", "round", "set", "slice", "sorted", "str", "sum",
    "tuple", "type", "zip", "bin", "hex", "oct", "callable",
))
# methods that only read their object (of the arrays, numbers, strings and containers rt.try_probe
# admits)
PURE_METHODS = frozenset((
    "all", "any", "argmax", "argmin", "argsort", "astype", "clip", "conj", "conjugate", "copy", "count",
    "cumprod", "cumsum", "diagonal", "dot", "flatten", "get", "index", "item", "items", "keys", "max",
    "mean", "min", "nonzero", "prod", "ravel", "repeat", "reshape", "round", "squeeze", "std", "sum",
    "swapaxes", "take", "tolist", "trace", "transpose", "values", "var", "view", "startswith",
    "endswith", "lower", "upper", "strip", "split", "join", "format", "replace", "find", "isdigit",
    "isalpha", "real", "imag", "is_integer", "bit_length", "as_integer_ratio", "searchsorted", "ptp",
    "tobytes", "__len__", "__getitem__", "__contains__", "union", "intersection", "difference",
    "issubset", "issuperset",
))
# modules whose functions compute values only (but for the names below)
PURE_MODULES = ("numpy", "math", "cmath", "scipy.special", "scipy.linalg", "operator")
IMPURE_FUNCTIONS = frozenset((
    "copyto", "put", "place", "putmask", "fill_diagonal", "put_along_axis", "seterr", "seterrcall",
    "set_printoptions", "setbufsize", "save", "savez", "savez_compressed", "savetxt", "load", "loadtxt",
    "genfromtxt", "fromfile", "tofile", "info", "at", "seed", "set_state", "printoptions", "show_config",
    "iadd", "isub", "imul", "itruediv", "ifloordiv", "imod", "ipow", "imatmul", "iand", "ior", "ixor",
    "ilshift", "irshift", "iconcat", "setitem", "delitem", "nditer", "memmap", "lookfor", "source",
    "vectorize", "frompyfunc", "apply_along_axis", "apply_over_axes", "piecewise", "fromfunction",
    "errstate", "random",
))
# keywords that make a pure function write into an argument
IMPURE_KEYWORDS = frozenset(("out", "overwrite_a", "overwrite_b", "overwrite_x", "overwrite_input"))

_JUMPS = (gast.Return, gast.Break, gast.Continue)
# array methods that take ``out`` by position: how many positional arguments come before it
_METHOD_POSITIONAL = {"sum": 2, "mean": 2, "prod": 2, "cumsum": 2, "cumprod": 2, "std": 2, "var": 2, "max": 1,
                      "min": 1, "all": 1, "any": 1, "argmax": 1, "argmin": 1, "clip": 2, "round": 1, "take": 2,
                      "dot": 1, "trace": 4, "ptp": 1, "conj": 0, "conjugate": 0}
_UFUNC_METHODS = {"reduce": 3, "accumulate": 3, "reduceat": 4, "outer": 2}


def _positional(node: gast.Call) -> float:
    """How many positional arguments a call passes (unbounded where one is ``*args``)."""
    if any(isinstance(a, gast.Starred) for a in node.args):
        return float("inf")
    return len(node.args)


def _check_method_arguments(node: gast.Call, name: str, spelled: str, offset: int = 0) -> None:
    limit = _METHOD_POSITIONAL.get(name)
    if limit is not None and _positional(node) > limit + offset:
        raise _Refused(node, f"the call {spelled}(...) with its out given by position", "")


def _check_arguments(node: gast.Call, fn, spelled: str) -> None:
    """A numpy (or scipy) function given its ``out`` (or ``overwrite_a``...) by position writes into
    that array: refused."""
    import inspect
    count = _positional(node)
    if isinstance(fn, np.ufunc):
        if count > fn.nin:
            raise _Refused(node, f"the call {spelled}(...) with its out given by position", "")
        return
    if isinstance(fn, type):
        return                       # np.float64(x), np.dtype(...): a new value
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        if count > 2:
            raise _Refused(node, f"the call {spelled}(...) (its parameters unknown, an out among them perhaps)",
                           "") from None
        return
    for k, p in enumerate(params):
        if p.kind not in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            break
        if (p.name in IMPURE_KEYWORDS or p.name.startswith("overwrite")) and k < count:
            raise _Refused(node, f"the call {spelled}(...) with its {p.name} given by position", "")


class _Refused(Exception):
    def __init__(self, node, construct: str, advice: str):
        super().__init__(construct)
        self.node, self.construct, self.advice = node, construct, advice


_PROBE_ADVICE = ("sct decides which branch of a try runs by running its body first, so the body "
                 "must be pure: assignments to names from numpy/math/builtin calls and calls of module-level "
                 "functions of yours that only compute a value (no print, random draw, write into an "
                 "argument or global), reads of items and attributes, if/for blocks of such. Move the rest out of the try (before it, or into "
                 "the handler or else block), or check the condition with if instead of catching "
                 "an exception")


def lower_try(stmts: List, namer, fail, rt_name: str, fn=None, local_names: Optional[Set[str]] = None,
              raised_checks: Optional[List] = None) -> List:
    """``stmts`` with every ``try`` in them (and in the blocks inside them, not in nested defs)
    written as the statements above.  ``fn``: the user's function (its globals resolve the calls of a
    probed body; None: only builtins do), ``local_names``: the names the function binds;
    ``raised_checks`` gets (names, handler's name, line) of each handler reading the exception of a
    body whose ``raise``/``assert`` message reads those names (``check_raised_values``)."""
    if not any(isinstance(n, gast.Try) for s in stmts for n in walk_nodes(s)):
        return stmts
    lowering = _TryLowering(namer, fail, rt_name, fn, local_names or set())
    lowering.function_body = stmts
    lowering.raised_checks = raised_checks if raised_checks is not None else []
    return lowering.block(stmts)


def check_raised_values(fdef, active, filename: str) -> None:
    """``try: ... raise ValueError(v) ... except ValueError as e: r = e.args[0] * 3`` with ``v`` traced:
    the handler's ``e`` is the exception the probe (the body run in plain Python) raised, its values
    constants to sct, so a derivative through them would be lost (was: silently zero).  Refused once
    activity is known, at the handler's line."""
    for names, handler, line in getattr(fdef, "sct_raised_checks", None) or ():
        traced = [n for n in names if n in active]
        if traced:
            raise CompileError(
                f"sct cannot differentiate an exception holding a traced value ({', '.join(traced)}, given to the "
                f"raise or assert of the try's body) read in its handler as {handler!r}: sct takes {handler!r} from "
                "running the body in plain Python, so a derivative through what it holds would be lost; bind the "
                "value to a name before the try and read that name in the handler", filename, line,
                "an exception holding a traced value")


def _numbers_read(node) -> Set[str]:
    """The names ``node`` reads other than into text (an f-string, ``str(v)``, ``len(v)``: no derivative)."""
    if isinstance(node, gast.JoinedStr) or isinstance(node, gast.Call) and isinstance(node.func, gast.Name) and \
            node.func.id in ("str", "repr", "format", "len", "type", "int", "bool", "round", "isinstance"):
        return set()
    if isinstance(node, gast.Name):
        return {node.id} if isinstance(node.ctx, gast.Load) else set()
    return set().union(*(_numbers_read(c) for c in gast.iter_child_nodes(node)))


def _walk_no_defs(node):
    todo = [node]
    while todo:
        n = todo.pop()
        yield n
        for child in gast.iter_child_nodes(n):
            if not isinstance(child, (gast.FunctionDef, gast.AsyncFunctionDef, gast.ClassDef, gast.Lambda)):
                todo.append(child)


class _TryLowering:
    def __init__(self, namer, fail, rt_name: str, fn, local_names: Set[str]):
        self.namer, self.fail, self.rt_name = namer, fail, rt_name
        self.globals = getattr(fn, "__globals__", None)
        code = getattr(fn, "__code__", None)
        self.free = set(code.co_freevars) if code is not None else set()
        self.local_names = set(local_names) | self.free
        self.functions: Dict[str, str] = {}     # the user's quiet pure functions a body calls: name -> qualname

    # --- blocks ---------------------------------------------------------------------------
    def block(self, stmts: List) -> List:
        out: List = []
        for st in stmts:
            if isinstance(st, gast.Try):
                out.extend(self.lowered(st))
                continue
            if isinstance(st, gast.FunctionDef) and any(isinstance(n, gast.Try) for n in gast.walk(st)):
                # a nested def: lowered here (as lower_match does), its own names local to its body
                st = copy.copy(st)
                outer, outer_body = self.local_names, self.function_body
                self.local_names, self.function_body = outer | local_names_of(st), st.body
                try:
                    st.body = self.block(st.body)
                finally:
                    self.local_names, self.function_body = outer, outer_body
                out.append(st)
                continue
            if isinstance(st, (gast.FunctionDef, gast.AsyncFunctionDef, gast.ClassDef)):
                out.append(st)
                continue
            if any(isinstance(getattr(st, f, None), list) for f in ("body", "orelse")) and \
                    any(isinstance(n, gast.Try) for n in _walk_no_defs(st)):
                st = copy.copy(st)
                for field in ("body", "orelse"):
                    if isinstance(getattr(st, field, None), list):
                        setattr(st, field, self.block(getattr(st, field)))
                if isinstance(st, gast.Match):
                    st.cases = [copy.copy(c) for c in st.cases]
                    for c in st.cases:
                        c.body = self.block(c.body)
            elif isinstance(st, gast.Match) and any(isinstance(n, gast.Try) for n in _walk_no_defs(st)):
                st = copy.copy(st)
                st.cases = [copy.copy(c) for c in st.cases]
                for c in st.cases:
                    c.body = self.block(c.body)
            out.append(st)
        return out

    def refuse(self, node, construct: str, advice: str):
        self.fail(node, construct, advice)

    # --- one try ----------------------------------------------------------------------------
    def lowered(self, st: gast.Try) -> List:
        line = st.lineno
        if getattr(st, "is_star", False) or type(st).__name__ == "TryStar":
            self.refuse(st, "try/except*", "catch the exception group outside the differentiated function")
        after: List = []
        if not st.handlers and st.finalbody:
            st, after = self.jumps_through_finally(st)
        if st.finalbody:
            self.check_final(st)
        if not st.handlers:
            # try/finally: what Python runs when the body raises nothing (FIN is local: see check_final)
            return self.block(st.body) + self.block(st.orelse) + self.block(st.finalbody) + after
        st = self.appends_to_else(st)
        returning = None
        if st.body and isinstance(st.body[-1], gast.Return) and not st.finalbody:
            # ``try: ...; return expr`` (no finally): the probe evaluates expr; the body's branch
            # returns it (the else block, which a return skips, is not run)
            returning, last = st.body, st.body[-1]
            st = copy.copy(st)
            st.body = st.body[:-1] + [gast.copy_location(gast.Expr(
                value=last.value if last.value is not None else const(None)), last)]
        elif st.body and isinstance(st.body[-1], (gast.Break, gast.Continue)) and not st.finalbody:
            # ``while True: try: L = cholesky(A + j * I); break / except LinAlgError: j *= 10`` (no
            # finally): the probe runs the body before the jump; the body's branch ends with it (the
            # else block, which the jump skips, is not run), the handler's goes on in the loop
            returning, last = st.body, st.body[-1]
            st = copy.copy(st)
            st.body = st.body[:-1] + [gast.copy_location(gast.Pass(), last)]
        try:
            self.check_pure_block(st.body, loop_depth=0)
        except _Refused as r:
            self.refuse(r.node, f"{r.construct} inside try (with except)", _PROBE_ADVICE)
        exposed = _exposed_block(st.body, set())
        handler_names = []
        for h in st.handlers:
            if h.type is not None:
                exposed |= _exposed_expr(h.type)
                try:
                    self.check_pure_expr(h.type)
                except _Refused as r:
                    self.refuse(r.node, f"{r.construct} as the exception caught", "name the exception class "
                                "(except KeyError:, except (ValueError, np.linalg.LinAlgError):)")
            if h.name is not None:
                handler_names.append(h.name.id if isinstance(h.name, gast.Name) else h.name)
                self.check_handler_name(h, handler_names[-1])
        raised = {n for s in st.body for r in _walk_no_defs(s)
                  if isinstance(r, gast.Raise) and r.exc is not None or isinstance(r, gast.Assert) and r.msg is not None
                  for n in _numbers_read(r.exc if isinstance(r, gast.Raise) else r.msg)}
        for h in st.handlers if raised else ():
            name = h.name.id if isinstance(h.name, gast.Name) else h.name
            if name and any(isinstance(n, gast.Name) and n.id == name for b in h.body for n in _walk_no_defs(b)):
                self.raised_checks.append((sorted(raised), name, h.lineno))
        self.check_names(st, exposed)
        params = sorted(n for n in exposed if not self.builtin_reference(n))
        wants_error = bool(handler_names) or any(
            isinstance(n, gast.Raise) and n.exc is None for h in st.handlers for b in h.body for n in _walk_no_defs(b))
        body = copy.deepcopy(st.body)
        types_ = [copy.deepcopy(h.type) for h in st.handlers]
        reads = self.probe_reads(params, body, types_, st)
        given = self.given_only(params, st.body)
        # Python keeps what the body's statements before the one that raised bound: the handler's
        # branch runs them again first (``if try_step > m: statement m``); the probe says which
        # statement raised where a statement binding names comes before the last
        binders = [m for m, s in enumerate(st.body, 1) if _binds(s) and m < len(st.body)]
        partial = [m for m, s in enumerate(st.body, 1) if _binds(s) and not _simple(s)]
        wants_step = bool(binders or partial)
        source = self.probe_source(st, body, types_, params, wants_error, reads, wants_step, partial, given)
        branch = self.namer.fresh("try_branch")
        step = self.namer.fresh("try_step") if wants_step else None
        error = self.namer.fresh("try_error") if wants_error else None
        probe = call(f"{self.rt_name}.try_probe", [const(source)] + [load(p) for p in params])
        out: List = []
        names = [n for n in (branch, step, error) if n is not None]
        if len(names) > 1:
            node = gast.Assign(targets=[gast.Tuple(elts=[gast.Name(id=n, ctx=gast.Store(), annotation=None,
                                                                      type_comment=None) for n in names],
                                                      ctx=gast.Store())],
                               value=probe, type_comment=None)
            node.lineno = line
            out.append(node)
        else:
            out.append(assign(branch, probe, line))
        replayed: List = []
        for m in binders:
            test = gast.Compare(left=load(step), ops=[gast.Gt()], comparators=[const(m)])
            node = gast.If(test=test, body=[copy.deepcopy(st.body[m - 1])], orelse=[])
            node.lineno = st.body[m - 1].lineno
            replayed.append(node)
        # if branch == 0: BODY; ELSE / elif branch == k: the k-th handler (the last one: else)
        chain = None
        for k in range(len(st.handlers), 0, -1):
            h = st.handlers[k - 1]
            body = self.handler_body(h, error)
            if chain is None:
                chain = body
            else:
                test = gast.Compare(left=load(branch), ops=[gast.Eq()], comparators=[const(k)])
                node = gast.If(test=test, body=body, orelse=chain)
                node.lineno = h.lineno
                chain = [node]
        test = gast.Compare(left=load(branch), ops=[gast.Eq()], comparators=[const(0)])
        node = gast.If(test=test, body=self.block(st.body) + self.block(st.orelse) if returning is None else
                       self.block(returning),
                       orelse=self.block(replayed) + chain)
        node.lineno = line
        out.append(node)
        out.extend(self.block(st.finalbody))
        return out

    def handler_body(self, h, error: Optional[str]) -> List:
        body = copy.deepcopy(h.body)
        name = h.name.id if isinstance(h.name, gast.Name) else h.name
        if error is not None:
            for n in [n for b in body for n in walk_nodes(b)]:
                if isinstance(n, gast.Raise) and n.exc is None:
                    n.exc = load(error)     # a bare raise: the exception caught
        if name:
            first = assign(name, load(error), h.lineno)
            body = [first] + body
        body = self.block(body)
        return body or [gast.Pass()]

    # --- checks ---------------------------------------------------------------------------------
    def check_handler_name(self, h, name: str):
        """Python unbinds ``e`` of ``except E as e:`` when the handler ends (a later read is a
        NameError); the lowered handler keeps it: refused where the function reads it elsewhere."""
        inside = set()
        for s in self.function_body:
            for n in _walk_no_defs(s):
                if isinstance(n, gast.ExceptHandler) and n.name is not None and \
                        (n.name.id if isinstance(n.name, gast.Name) else n.name) == name:
                    inside.update(id(m) for b in n.body for m in walk_nodes(b))
        for s in self.function_body:
            for n in _walk_no_defs(s):
                if isinstance(n, gast.Name) and n.id == name and id(n) not in inside and \
                        isinstance(n.ctx, gast.Load):
                    self.refuse(n, f"a read of {name} outside its handler (except ... as {name})",
                                f"Python deletes {name} when the handler ends: copy it into another name "
                                "inside the handler")

    def appends_to_else(self, st: gast.Try) -> gast.Try:
        """``try: ...; vals.append(f(v)) except E: ...`` with ``vals`` a list the function makes (every
        binding of it a list display or ``list(...)``): the appends closing the body move to the front of
        the else block, their values computed in the body (``tmp = f(v)``).  A list's append raises
        nothing, so Python runs the same statements in the same order; the body left is probed as any
        (was: refused, "the call vals.append(...) ... inside try (with except)", red team 51 FR7).  The
        first append moved takes any value, those after it a name or a constant: of two, Python has done
        the first when the second's value raises (the handler sees it appended), and the second's value
        may read the list through another name (``seen = vals``) after the first append (was: every
        closing append moved, the first lost or read early: wrong values, redfix51)."""
        body, moved, values = list(st.body), [], []
        while body and isinstance(body[-1], gast.Expr) and isinstance(body[-1].value, gast.Call):
            c, at = body[-1].value, body[-1]
            f = c.func
            if not (isinstance(f, gast.Attribute) and f.attr == "append" and isinstance(f.value, gast.Name) and
                    len(c.args) == 1 and not c.keywords and not isinstance(c.args[0], gast.Starred) and
                    self.own_list(f.value.id)):
                break
            if values and not isinstance(values[0].value, (gast.Name, gast.Constant)):
                return st       # (the value of an append after this one may raise or read the list)
            body.pop()
            tmp = self.namer.fresh(f"{f.value.id}_item")
            values.insert(0, gast.copy_location(assign(tmp, c.args[0], at.lineno), at))
            moved.insert(0, gast.copy_location(gast.Expr(value=call(
                gast.Attribute(value=load(f.value.id), attr="append", ctx=gast.Load()), [load(tmp)])), at))
        lists = {m.value.func.value.id for m in moved}
        if any(isinstance(n, gast.Name) and n.id in lists for v in values for n in walk_nodes(v.value)):
            return st           # (a value reading a list appended to: computed before an append it followed)
        body += values
        if not moved:
            return st
        new = copy.copy(st)
        new.body, new.orelse = body, moved + list(st.orelse)
        return new

    def own_list(self, name: str) -> bool:
        """Is ``name`` bound in the function only to list displays or ``list(...)`` (never a parameter, a
        loop's or with's target, an unpacking)?"""
        binds = 0
        for s in self.function_body:
            for n in _walk_no_defs(s):
                if isinstance(n, gast.Name) and n.id == name and not isinstance(n.ctx, gast.Load):
                    binds += 1
        values = []
        for s in self.function_body:
            for n in _walk_no_defs(s):
                if not (isinstance(n, gast.Assign) and len(n.targets) == 1):
                    continue
                t, v = n.targets[0], n.value
                if isinstance(t, gast.Name) and t.id == name:
                    values.append(v)
                elif isinstance(t, (gast.Tuple, gast.List)) and isinstance(v, (gast.Tuple, gast.List)) and \
                        len(t.elts) == len(v.elts) and not any(isinstance(e, gast.Starred) for e in t.elts + v.elts):
                    values += [e for te, e in zip(t.elts, v.elts) if isinstance(te, gast.Name) and te.id == name]
        return bool(values) and binds == len(values) and name not in self.free and \
            "list" not in self.local_names and \
            all(isinstance(v, gast.List) or isinstance(v, gast.Call) and isinstance(v.func, gast.Name) and
                v.func.id == "list" for v in values)

    def jumps_through_finally(self, st: gast.Try):
        """``continue``, ``break`` or ``return e`` in the body of a ``try``/``finally`` (not in a loop of the
        body; no nested ``try``, ``with`` or ``match`` holding one): Python runs FIN, then jumps.  Written
        ``jump = 0; for once in range(1): BODY'`` (each jump ``jump = k; break``, a return's value kept
        first), then FIN, then ``if jump == k: <the jump>`` (was: refused, "continue inside a try with
        finally", red team 51 FR7).  ``(the try, statements after it)``; the try as it was where none."""
        found: List = []

        def visit(stmts, depth):
            for s in stmts:
                if isinstance(s, (gast.FunctionDef, gast.AsyncFunctionDef, gast.ClassDef)):
                    continue
                if isinstance(s, _JUMPS) and (depth == 0 or isinstance(s, gast.Return)):
                    found.append((s, depth))
                elif isinstance(s, (gast.Try, gast.With, gast.AsyncWith, gast.Match)) and \
                        any(isinstance(n, _JUMPS) for n in _walk_no_defs(s)):
                    found.append((s, -1))
                loop = isinstance(s, (gast.For, gast.While, gast.AsyncFor))
                if loop and depth == 0 and any(isinstance(n, _JUMPS) for e in s.orelse for n in _walk_no_defs(e)):
                    found.append((s, -1))           # (a jump in a loop's else: not written out)
                for field in ("body", "orelse"):
                    inner = getattr(s, field, None)
                    if isinstance(inner, list) and not isinstance(s, (gast.Try, gast.With, gast.AsyncWith)):
                        visit(inner, depth + 1 if loop else depth)
        visit(st.body, 0)
        if not found or any(d != 0 for _, d in found) or "range" in self.local_names or \
                self.globals is not None and self.globals.get("range", range) is not range:
            return st, []           # (none, or one sct cannot move: check_final refuses it)
        line = st.lineno
        jump, once, value = self.namer.fresh("jump"), self.namer.fresh("once"), self.namer.fresh("returning")
        kinds = {gast.Continue: 1, gast.Break: 2, gast.Return: 3}

        def rewrite(stmts):
            out = []
            for s in stmts:
                if isinstance(s, _JUMPS):
                    at = s.lineno
                    if isinstance(s, gast.Return):
                        out.append(gast.copy_location(assign(value, copy.deepcopy(s.value) if s.value is not None
                                                             else const(None), at), s))
                    out.append(gast.copy_location(assign(jump, const(kinds[type(s)]), at), s))
                    out.append(gast.copy_location(gast.Break(), s))
                    continue
                if isinstance(s, gast.If):
                    s = copy.copy(s)
                    s.body, s.orelse = rewrite(s.body), rewrite(s.orelse)
                out.append(s)
            return out
        loop = gast.For(target=gast.Name(id=once, ctx=gast.Store(), annotation=None, type_comment=None),
                        iter=call("range", [const(1)]), body=rewrite(st.body), orelse=[], type_comment=None)
        gast.copy_location(loop, st)
        new = copy.copy(st)
        new.body = [assign(jump, const(0), line), loop]
        after = []
        for s, _ in found:
            k = kinds[type(s)]
            if any(isinstance(a, gast.If) and a.test.comparators[0].value == k for a in after):
                continue
            act = gast.Return(value=load(value)) if isinstance(s, gast.Return) else type(s)()
            test = gast.Compare(left=load(jump), ops=[gast.Eq()], comparators=[const(k)])
            after.append(gast.copy_location(gast.If(test=test, body=[gast.copy_location(act, s)], orelse=[]), s))
        for a in after:
            a.lineno = getattr(st.finalbody[-1], "lineno", line)
        return new, after

    def check_final(self, st: gast.Try):
        """FIN runs also when the body (or a handler) raises, and the exception goes on: sct, which
        runs it only where nothing was raised, models that where FIN's effects end with the call
        (names bound, pure calls); and a jump out of the try would skip it."""
        for part, what in ((st.finalbody, "finally"),):
            for n in (n for s in part for n in _walk_no_defs(s)):
                if isinstance(n, _JUMPS):
                    self.refuse(n, f"{type(n).__name__.lower()} inside finally",
                                "move it after the try statement (in Python it discards the exception)")
        for part in [st.body, st.orelse] + [h.body for h in st.handlers]:
            for s in part:
                self.check_no_escape(s, 0, "with finally")
        try:
            self.check_pure_block(st.finalbody, loop_depth=0, local_effects=True)
        except _Refused as r:
            self.refuse(r.node, f"{r.construct} inside finally",
                        "sct runs a finally block only where the try raised nothing, so it must only "
                        "assign names from pure calls; move the statement after the try statement")

    def check_no_escape(self, s, depth: int, where: str):
        if isinstance(s, (gast.FunctionDef, gast.AsyncFunctionDef, gast.ClassDef)):
            return
        if isinstance(s, gast.Return) or isinstance(s, (gast.Break, gast.Continue)) and depth == 0:
            self.refuse(s, f"{type(s).__name__.lower()} inside a try {where}",
                        "set a flag inside the try and act on it after the try statement")
        inner = depth + 1 if isinstance(s, (gast.For, gast.While)) else depth
        for field in ("body", "orelse"):
            for c in getattr(s, field, None) or ():
                if isinstance(c, gast.stmt):
                    self.check_no_escape(c, inner if field == "body" else depth, where)
        for h in getattr(s, "handlers", None) or ():
            for c in h.body:
                self.check_no_escape(c, depth, where)
        for c in getattr(s, "finalbody", None) or ():
            self.check_no_escape(c, depth, where)
        for case in getattr(s, "cases", None) or ():
            for c in case.body:
                self.check_no_escape(c, depth, where)

    def check_pure_block(self, stmts: List, loop_depth: int, local_effects: bool = False):
        for s in stmts:
            self.check_pure_stmt(s, loop_depth, local_effects)

    def check_pure_stmt(self, s, loop_depth: int, local_effects: bool):
        if isinstance(s, gast.Assign):
            for t in s.targets:
                self.check_name_target(t)
            self.check_pure_expr(s.value)
        elif isinstance(s, gast.AnnAssign) and isinstance(s.target, gast.Name):
            if s.value is not None:
                self.check_pure_expr(s.value)
        elif isinstance(s, gast.AugAssign):
            # (h += v may write into the array h holds, which the caller may see: not local)
            raise _Refused(s, "augmented assignment (+=)" if isinstance(s.target, gast.Name) else
                           "a write into an item or attribute", "write h = h + v")
        elif isinstance(s, gast.Expr):
            if isinstance(s.value, gast.Constant):
                return
            self.check_pure_expr(s.value)
        elif isinstance(s, gast.Pass):
            return
        elif isinstance(s, gast.Assert):
            self.check_pure_expr(s.test)
            if s.msg is not None:
                self.check_pure_expr(s.msg)
        elif isinstance(s, gast.Raise):
            if local_effects:
                raise _Refused(s, "raise", "")
            if s.exc is None or s.cause is not None:
                raise _Refused(s, "a bare raise" if s.exc is None else "raise ... from", "")
            self.check_pure_expr(s.exc)
        elif isinstance(s, gast.If):
            self.check_pure_expr(s.test)
            self.check_pure_block(s.body, loop_depth, local_effects)
            self.check_pure_block(s.orelse, loop_depth, local_effects)
        elif isinstance(s, gast.For):
            self.check_name_target(s.target)
            self.check_pure_expr(s.iter)
            self.check_pure_block(s.body, loop_depth + 1, local_effects)
            self.check_pure_block(s.orelse, loop_depth, local_effects)
        elif isinstance(s, gast.While):
            self.check_pure_expr(s.test)
            self.check_pure_block(s.body, loop_depth + 1, local_effects)
            self.check_pure_block(s.orelse, loop_depth, local_effects)
        elif isinstance(s, (gast.Break, gast.Continue)) and loop_depth > 0:
            return
        elif isinstance(s, gast.Try):
            raise _Refused(s, "a nested try", "")
        elif isinstance(s, gast.Return):
            raise _Refused(s, "return", "")
        elif isinstance(s, (gast.Break, gast.Continue)):
            raise _Refused(s, type(s).__name__.lower() + " (leaving the try)", "")
        elif isinstance(s, (gast.With, gast.AsyncWith)):
            raise _Refused(s, "a with statement", "")
        elif isinstance(s, gast.Delete):
            raise _Refused(s, "del", "")
        elif isinstance(s, (gast.FunctionDef, gast.AsyncFunctionDef, gast.ClassDef)):
            raise _Refused(s, "a nested def", "")
        elif isinstance(s, (gast.Import, gast.ImportFrom)):
            raise _Refused(s, "an import", "")
        else:
            raise _Refused(s, f"a {type(s).__name__} statement", "")

    def check_name_target(self, t):
        if isinstance(t, gast.Name):
            return
        if isinstance(t, (gast.Tuple, gast.List)):
            for e in t.elts:
                self.check_name_target(e.value if isinstance(e, gast.Starred) else e)
            return
        what = "a write into an item" if isinstance(t, gast.Subscript) else \
            "a write into an attribute" if isinstance(t, gast.Attribute) else "this assignment target"
        raise _Refused(t, what, "")

    def check_pure_expr(self, e):
        for n in walk_nodes(e):
            if isinstance(n, gast.Call):
                self.check_pure_call(n)
            elif isinstance(n, gast.NamedExpr):
                raise _Refused(n, "an assignment expression (:=)", "")
            elif isinstance(n, gast.Lambda):
                raise _Refused(n, "a lambda", "")
            elif isinstance(n, (gast.Yield, gast.YieldFrom, gast.Await)):
                raise _Refused(n, type(n).__name__.lower(), "")

    def check_pure_call(self, node: gast.Call):
        for k in node.keywords:
            if k.arg in IMPURE_KEYWORDS:
                raise _Refused(node, f"a call with {k.arg}= (a write into an array)", "")
        f = node.func
        path = []
        while isinstance(f, gast.Attribute):
            path.append(f.attr)
            f = f.value
        path.reverse()
        spelled = dotted_name(node.func)
        if not isinstance(f, gast.Name):
            if path and path[-1] in PURE_METHODS:
                _check_method_arguments(node, path[-1], spelled)
                return                  # ``(a + b).sum()``, ``x[0].reshape(...)``
            raise _Refused(node, f"the call {spelled}(...)" if spelled else "a call of a computed function", "")
        root = f.id
        if root in self.local_names:
            if path and path[-1] in PURE_METHODS:
                _check_method_arguments(node, path[-1], spelled)
                return                  # a method of a value: x.sum(), d.get(k) (its type checked when it runs)
            raise _Refused(node, f"the call {spelled}(...)" + (" (a method that may change its object)"
                                                               if path else ""), "")
        value = self._global(root)
        if value is _MISSING:
            raise _Refused(node, f"the call {spelled}(...)", "")
        if not path:
            if value is getattr(builtins, root, _MISSING) and root in PURE_BUILTINS:
                return
            if isinstance(value, type) and issubclass(value, BaseException):
                return                  # an exception made to be raised
            if _pure_module_function(value, root):
                _check_arguments(node, value, spelled)
                return
            if quiet_pure_function(value):
                # a helper of the user's that only computes a value: run twice, one answer (the probe
                # admits the function it was given by its name only: rt.try_probe's ``functions``)
                self.functions[root] = f"{value.__module__}.{value.__qualname__}"
                return
            raise _Refused(node, f"the call {spelled}(...)" + (" (a function of your own)" if isinstance(
                value, types.FunctionType) else ""), "")
        obj = value
        if not isinstance(obj, types.ModuleType):
            if path[-1] in PURE_METHODS:
                _check_method_arguments(node, path[-1], spelled)
                return
            raise _Refused(node, f"the call {spelled}(...)", "")
        for i, a in enumerate(path):
            if a in IMPURE_FUNCTIONS or a.startswith("_"):
                raise _Refused(node, f"the call {spelled}(...)", "")
            try:
                obj = getattr(obj, a)
            except AttributeError:
                raise _Refused(node, f"the call {spelled}(...)", "") from None
            if not isinstance(obj, types.ModuleType) and i < len(path) - 1:
                # np.float64(...).item, np.add.reduce: a class's or a ufunc's method
                rest = path[i + 1:]
                if len(rest) == 1 and rest[0] in _UFUNC_METHODS and isinstance(obj, np.ufunc):
                    if _positional(node) > _UFUNC_METHODS[rest[0]]:
                        raise _Refused(node, f"the call {spelled}(...) with its out given by position", "")
                    return
                if len(rest) == 1 and rest[0] in PURE_METHODS and isinstance(obj, type) and \
                        _pure_module_object(obj):
                    _check_method_arguments(node, rest[0], spelled, offset=1)    # np.ndarray.sum(x, ...)
                    return
                raise _Refused(node, f"the call {spelled}(...)", "")
        if isinstance(obj, types.ModuleType) or not _pure_module_object(obj):
            raise _Refused(node, f"the call {spelled}(...)", "")
        _check_arguments(node, obj, spelled)

    def _global(self, name: str):
        if self.globals is not None:
            if name in self.globals:
                return self.globals[name]
            b = self.globals.get("__builtins__", builtins)
            b = b if isinstance(b, dict) else vars(b)
            return b.get(name, _MISSING)
        return getattr(builtins, name, _MISSING)

    def builtin_reference(self, name: str) -> bool:
        """Does ``name`` in the function mean the builtin (the probe finds it itself)?"""
        if name in self.local_names or not hasattr(builtins, name):
            return False
        return self.globals is not None and name not in self.globals

    def check_names(self, st, exposed: Set[str]):
        """A name the body reads that the function, its module and the builtins all lack: Python's
        NameError (which a handler might catch); refused rather than modelled."""
        if self.globals is None:
            return
        for name in sorted(exposed):
            if name not in self.local_names and self._global(name) is _MISSING:
                self.refuse(st, f"the name {name} (defined nowhere) inside try",
                            "define it before the try statement")

    # --- the probe --------------------------------------------------------------------------------
    def probe_reads(self, params: List[str], body: List, types_: List, st) -> Dict[str, List]:
        """For each name of the function that the body reads only through attributes (``self.W``,
        ``cfg.eps``, ``self.W.sum()``), the attribute paths it reads: ``rt.try_probe`` then admits an
        object of the user's class there where each path is a plain attribute of its object (held
        in its ``__dict__`` or a slot, no property: reading it changes nothing)."""
        assigned = {n.id for s in st.body for n in walk_nodes(s)
                    if isinstance(n, gast.Name) and not isinstance(n.ctx, gast.Load)}
        reads: Dict[str, List] = {}
        for name in params:
            if name not in assigned and (name in self.local_names or
                                         not isinstance(self._global(name), types.ModuleType)):
                chains = _attribute_chains(body + [t for t in types_ if t is not None], name)
                if chains:
                    reads[name] = sorted({tuple(dotted_name(top).split(".")[1:]) for top in chains})
        return reads

    def given_only(self, params: List[str], body: List) -> List[str]:
        """The names of ``params`` the body reads only as arguments of the user's quiet pure functions
        (``h = forward(p, x)``): ``rt.try_probe`` admits a plain object there (a dataclass of arrays), as
        the function only reads its attributes."""
        if not self.functions:
            return []
        passed, other = set(), set()
        for n in (n for s in body for n in walk_nodes(s)):
            if isinstance(n, gast.Call) and isinstance(n.func, gast.Name) and n.func.id in self.functions:
                passed |= {id(a) for a in list(n.args) + [k.value for k in n.keywords] if isinstance(a, gast.Name)}
        for n in (n for s in body for n in walk_nodes(s)):
            if isinstance(n, gast.Name) and n.id in params and id(n) not in passed:
                other.add(n.id)
        return sorted(p for p in params if p not in other and p not in self.functions)

    def probe_source(self, st: gast.Try, body: List, types_: List, params: List[str], wants_error: bool,
                     reads: Dict[str, List], wants_step: bool, partial: List[int], given: List[str] = ()) -> str:
        taken = set(params) | {n.id for s in body for n in walk_nodes(s) if isinstance(n, gast.Name)}
        error, step = "caught", "step"
        while error in taken:
            error += "_"
        while step in taken:
            step += "_"
        if wants_step:
            numbered = []
            for m, s in enumerate(body, 1):
                numbered += [assign(step, const(m)), s]
            body = numbered

        def outcome(k, stepped, caught):
            items = [const(k)] + ([stepped] if wants_step else []) + ([caught] if wants_error else [])
            return gast.Tuple(elts=items, ctx=gast.Load()) if len(items) > 1 else items[0]
        handlers = []
        for k, (h, type_) in enumerate(zip(st.handlers, types_), 1):
            value = outcome(k, load(step), load(error))
            handlers.append(gast.ExceptHandler(type=type_, name=gast.Name(
                id=error, ctx=gast.Store(), annotation=None, type_comment=None) if wants_error else None,
                body=[gast.Return(value=value)]))
        none = outcome(0, const(0), const(None))
        args = gast.arguments(args=[gast.Name(id=p, ctx=gast.Param(), annotation=None, type_comment=None)
                                    for p in params], posonlyargs=[], vararg=None, kwonlyargs=[],
                              kw_defaults=[], kwarg=None, defaults=[])
        fdef = gast.FunctionDef(name="probe", args=args, body=[
            gast.Try(body=body, handlers=handlers, orelse=[], finalbody=[]),
            gast.Return(value=none)], decorator_list=[], returns=None, type_comment=None, type_params=[])
        module = gast.Module(body=[fdef], type_ignores=[])
        tree = gast.gast_to_ast(module)
        ast.fix_missing_locations(tree)
        source = ast.unparse(tree)
        if reads:
            source += f"\nreads = {reads!r}"
        functions = {p: self.functions[p] for p in params if p in self.functions}
        if functions:
            source += f"\nfunctions = {functions!r}"
        if given:
            source += f"\ngiven = {list(given)!r}"
        if partial:
            # statements that bind names and may raise partway (a loop, an if): Python's handler
            # would see what they had bound by then, which sct cannot replay; refused when it happens
            source += f"\npartial = {dict((m, body_line(st.body[m - 1])) for m in partial)!r}"
        return source


_MISSING = object()


def body_line(s) -> int:
    return getattr(s, "lineno", 0) or 0


def _binds(s) -> bool:
    """Does statement ``s`` bind a name (of the function: not a comprehension's own)?"""
    if isinstance(s, gast.Assign):
        return True
    if isinstance(s, (gast.AnnAssign, gast.AugAssign)):
        return s.value is not None
    if isinstance(s, gast.For):
        return True
    return any(_binds(c) for field in ("body", "orelse") for c in getattr(s, field, None) or ()
               if isinstance(c, gast.stmt))


def _simple(s) -> bool:
    """A statement that binds all its names or none: an assignment (its value is computed, and a
    tuple unpacked, before any name is bound)."""
    return isinstance(s, (gast.Assign, gast.AnnAssign, gast.Expr, gast.Pass, gast.Assert, gast.Raise))


def _attribute_chains(roots: List, name: str):
    """Where ``roots`` read ``name`` only through attributes: each longest attribute read on it (a
    method called on it left out: ``self.W.sum()`` reads ``self.W``); None where the name is read
    otherwise (or written)."""
    found = []
    holder = gast.Module(body=list(roots), type_ignores=[])
    parents = {}
    for node in walk_nodes(holder):
        for field, value in gast.iter_fields(node):
            if isinstance(value, gast.AST):
                parents[id(value)] = (node, field, None)
            elif isinstance(value, list):
                for i, v in enumerate(value):
                    if isinstance(v, gast.AST):
                        parents[id(v)] = (node, field, i)
    for node in walk_nodes(holder):
        if not (isinstance(node, gast.Name) and node.id == name):
            continue
        if not isinstance(node.ctx, gast.Load):
            return None
        top = node
        while True:
            parent, field, index = parents[id(top)]
            if isinstance(parent, gast.Attribute) and field == "value" and isinstance(parent.ctx, gast.Load):
                top = parent
            else:
                break
        if isinstance(parent, gast.Call) and field == "func" and top is not node:
            top = top.value           # self.W.sum(): the method's object
        if top is node:
            return None
        found.append(top)
    return found


def _module_of(obj) -> str:
    module = getattr(obj, "__module__", None)
    if module is None and isinstance(obj, getattr(__import__("numpy"), "ufunc")):
        module = "numpy"
    return module or ""


def _pure_module_object(obj) -> bool:
    """A function or class of numpy (not numpy.random), math, cmath, scipy.special, scipy.linalg or
    operator (not its in-place functions)."""
    import numpy as np
    if isinstance(obj, np.ufunc):
        return True
    name = getattr(obj, "__name__", "")
    if name in IMPURE_FUNCTIONS:
        return False
    module = _module_of(obj)
    if "random" in module.split("."):
        return False
    if module in ("builtins",) and isinstance(obj, type):
        return obj.__module__ == "builtins" and (issubclass(obj, BaseException) or name in PURE_BUILTINS)
    if module.startswith("numpy") and isinstance(obj, type):
        return True                       # np.float64(...), np.ndarray, np.dtype, np.linalg.LinAlgError
    if not callable(obj):
        return False
    return any(module == m or module.startswith(m + ".") for m in PURE_MODULES) or \
        module == "_operator" or module.startswith("scipy.special") or module.startswith("scipy.linalg")


# builtins a function may call that the probe's second run would show (output, input, files)
_LOUD_BUILTINS = frozenset(("print", "input", "open", "exec", "eval", "breakpoint", "compile", "__import__",
                            "globals", "vars", "locals", "setattr", "delattr", "iter", "next"))


def quiet_pure_function(fn, depth: int = 0) -> bool:
    """Is ``fn`` a plain function of the user's (module level, no closure) that only computes a value
    from its arguments: it changes nothing its caller sees (``callee_effects._pure``), draws no random
    number, prints, reads or writes nothing, and calls only such functions of its module or numpy's,
    math's and the pure builtins?  Running it once more (the try's probe) changes nothing then."""
    from .normalize_generators import changes_or_draws
    from .parse import function_ast, library_file
    if type(fn) is not types.FunctionType or fn.__closure__ or depth > 3 or \
            (getattr(fn, "__module__", None) or "").split(".")[0] in ("sct", "sct_generated") or \
            library_file(fn.__code__.co_filename) or fn.__code__.co_flags & (0x20 | 0x80 | 0x200):
        return False            # (a generator, a coroutine, an async generator: not a value)
    try:
        tree, _, _ = function_ast(fn)
        if changes_or_draws(fn, tree):
            return False
    except Exception:
        return False
    for n in walk_nodes(tree):
        if isinstance(n, (gast.Global, gast.Nonlocal, gast.Yield, gast.YieldFrom, gast.Await, gast.Try,
                          gast.With, gast.Lambda, gast.FunctionDef, gast.ClassDef)) and n is not tree:
            return False
        if not isinstance(n, gast.Call):
            continue
        root = n.func
        while isinstance(root, gast.Attribute):
            root = root.value
        if not isinstance(root, gast.Name):
            continue            # (a method of a value: _pure has read it)
        if root.id in fn.__code__.co_varnames:
            if isinstance(n.func, gast.Name):
                return False    # a function value given to it
            continue
        value = fn.__globals__.get(root.id, _MISSING)
        if value is _MISSING:
            if root.id in _LOUD_BUILTINS or not hasattr(builtins, root.id):
                return False
            continue
        if isinstance(value, types.ModuleType):
            if module_name(value) not in PURE_MODULES:
                return False
            continue
        if isinstance(n.func, gast.Name) and (_pure_module_function(value, root.id) or
                                              value is getattr(builtins, root.id, _MISSING) and
                                              root.id in PURE_BUILTINS or quiet_pure_function(value, depth + 1)):
            continue
        return False
    return True


def module_name(module) -> str:
    """``numpy`` of numpy.linalg, ``scipy.special`` of scipy.special: the name PURE_MODULES lists."""
    name = module.__name__
    return next((m for m in PURE_MODULES if name == m or name.startswith(m + ".")), name)


def _pure_module_function(value, name: str) -> bool:
    """A name bound to a pure module function (``from math import sqrt``)."""
    return not isinstance(value, types.ModuleType) and _pure_module_object(value) and \
        not (isinstance(value, type) and not issubclass(value, BaseException) and
             not _module_of(value).startswith("numpy"))


# --- the names a body reads before binding them ----------------------------------------------------

def _exposed_block(stmts: List, bound: Set[str]) -> Set[str]:
    """The names ``stmts`` may read before binding them (given ``bound``, the names surely bound
    before; updated with the names they surely bind)."""
    out: Set[str] = set()
    for s in stmts:
        out |= _exposed_stmt(s, bound)
    return out


def _stored(t) -> Set[str]:
    return {n.id for n in walk_nodes(t) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)}


def _exposed_stmt(s, bound: Set[str]) -> Set[str]:
    if isinstance(s, gast.Assign):
        out = _exposed_expr(s.value) - bound
        for t in s.targets:
            out |= _exposed_expr(t) - bound      # (loads inside a target: none for names)
            bound |= _stored(t)
        return out
    if isinstance(s, (gast.AnnAssign, gast.AugAssign)):
        out = (_exposed_expr(s.value) if s.value is not None else set()) - bound
        if isinstance(s, gast.AugAssign):
            out |= {s.target.id} - bound if isinstance(s.target, gast.Name) else set()
        bound |= _stored(s.target) if s.value is not None else set()
        return out
    if isinstance(s, gast.If):
        out = _exposed_expr(s.test) - bound
        b1, b2 = set(bound), set(bound)
        out |= _exposed_block(s.body, b1) | _exposed_block(s.orelse, b2)
        bound |= b1 & b2
        return out
    if isinstance(s, gast.For):
        out = _exposed_expr(s.iter) - bound
        inner = set(bound) | _stored(s.target)
        out |= _exposed_block(s.body, inner)
        out |= _exposed_block(s.orelse, set(bound))
        return out
    if isinstance(s, gast.While):
        out = _exposed_expr(s.test) - bound
        out |= _exposed_block(s.body, set(bound)) | _exposed_block(s.orelse, set(bound))
        return out
    return {n for n in _exposed_expr(s)} - bound


def _exposed_expr(e) -> Set[str]:
    """The names an expression reads (a comprehension's own targets left out)."""
    if e is None:
        return set()
    if isinstance(e, (gast.ListComp, gast.SetComp, gast.GeneratorExp, gast.DictComp)):
        gens = e.generators
        out = _exposed_expr(gens[0].iter)
        bound: Set[str] = set()
        rest = set()
        for i, g in enumerate(gens):
            if i:
                rest |= _exposed_expr(g.iter) - bound
            bound |= _stored(g.target)
            for c in g.ifs:
                rest |= _exposed_expr(c) - bound
        parts = [e.key, e.value] if isinstance(e, gast.DictComp) else [e.elt]
        for p in parts:
            rest |= _exposed_expr(p) - bound
        return out | rest
    out: Set[str] = set()
    if isinstance(e, gast.Name):
        if isinstance(e.ctx, gast.Load):
            out.add(e.id)
        return out
    for child in gast.iter_child_nodes(e):
        out |= _exposed_expr(child)
    return out


def local_names_of(fdef) -> Set[str]:
    """The names ``fdef`` binds (its parameters among them; not inside nested defs)."""
    names = set()
    a = fdef.args
    for p in a.posonlyargs + a.args + a.kwonlyargs + [a.vararg, a.kwarg]:
        if isinstance(p, gast.Name):
            names.add(p.id)
    for n in walk_no_defs(fdef):     # (sct.ir's walks: the same nodes but the ctx and operator leaves)
        if n is fdef:
            continue
        if isinstance(n, gast.Name) and isinstance(n.ctx, (gast.Store, gast.Del, gast.Param)):
            names.add(n.id)
        elif isinstance(n, (gast.FunctionDef, gast.AsyncFunctionDef, gast.ClassDef)):
            names.add(n.name)
        elif isinstance(n, gast.ExceptHandler) and n.name is not None:
            names.add(n.name.id if isinstance(n.name, gast.Name) else n.name)
        elif isinstance(n, (gast.Import, gast.ImportFrom)):
            for alias in n.names:
                names.add((alias.asname or alias.name).split(".")[0])
        else:
            names.update(c for _, c in pattern_captures(n))       # ``case [L]:`` binds L
    # nested defs are not walked, but their names are bound here (those at any depth, as a full
    # walk finds them: a definition is a statement, so the walk reads only statements' blocks)
    todo = [fdef]
    while todo:
        n = todo.pop()
        if n is not fdef and isinstance(n, (gast.FunctionDef, gast.AsyncFunctionDef, gast.ClassDef)):
            names.add(n.name)
        for field in _STMT_BLOCKS:
            block = getattr(n, field, None)
            if isinstance(block, list):
                todo.extend(b for b in block if isinstance(b, (gast.stmt, gast.ExceptHandler, gast.match_case)))
    return names


_STMT_BLOCKS = ("body", "handlers", "orelse", "finalbody", "cases")
