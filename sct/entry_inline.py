"""make_call_from's call with the compiled entry's body written into it (one Python frame where
there were three: the call, the entry, its dlgradient sweep; and the tiny runtime helpers
``rt.scalar_elements``, ``rt.scalar_seed``, ``rt.scalar_elements_gradient`` written inline).

The call's code is compiled under the generated file's name, its statements from the entry (and
the sweep) keeping their line numbers there, so an error or a warning inside them is located at the
user's line as before (sct.parse.LINE_MAPS); the call's own lines are numbered past the end of the
map (no user line).  A frame reports the function whose lines it runs: the entry's name (the code's
``co_name``), the sweep's for the sweep's lines (sct.parse.INLINED_NAMES, read by user_location:
an error there still reads "computing the gradient of").  The call's globals are the entry's
(read live, as the entry read them); the call's constants are cells of an enclosing function.
Anything this cannot prove the same (a name two of them use differently, a nested scope, a second
``return``...) gives None: make_call_from then builds its usual call."""
from __future__ import annotations

import ast
import builtins
import re
import linecache
import textwrap
import types

_UNSAFE = (ast.Lambda, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.ListComp, ast.SetComp,
           ast.DictComp, ast.GeneratorExp, ast.Global, ast.Nonlocal, ast.Yield, ast.YieldFrom, ast.Await)
_FRAME_NAMES = frozenset({"locals", "vars", "dir", "eval", "exec", "super", "globals"})
_PLAIN_FLAGS = 0x04 | 0x08 | 0x20 | 0x80 | 0x100 | 0x200     # *args, **kw, generator, coroutine...
_PLACEHOLDER = "__sct_entry_body__"


def _function_node(tree, code):
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == code.co_name and \
                node.lineno == code.co_firstlineno and not node.decorator_list:
            return node
    return None


def _plain(function, filename) -> bool:
    code = getattr(function, "__code__", None)
    return type(function) is types.FunctionType and code.co_filename == filename and \
        not function.__closure__ and not function.__defaults__ and not function.__kwdefaults__ and \
        not code.co_flags & _PLAIN_FLAGS and not code.co_kwonlyargcount and not code.co_posonlyargcount and \
        not code.co_freevars and not code.co_cellvars


def _body(node):
    """``node``'s statements before its one ``return`` (its last statement) and that return's
    value; None where it has another return or a nested scope."""
    body = node.body
    if not body or not isinstance(body[-1], ast.Return) or body[-1].value is None:
        return None
    for stmt in body[:-1]:
        for n in ast.walk(stmt):
            if isinstance(n, _UNSAFE) or isinstance(n, ast.Return) or \
                    isinstance(n, ast.Name) and n.id in _FRAME_NAMES:
                return None
    if any(isinstance(n, _UNSAFE) or isinstance(n, ast.Name) and n.id in _FRAME_NAMES
           for n in ast.walk(body[-1])):
        return None
    return body[:-1], body[-1]


def _names(nodes) -> set:
    return {n.id for stmt in nodes for n in ast.walk(stmt) if isinstance(n, ast.Name)}


def _at(stmts, line):
    for stmt in stmts:
        for n in ast.walk(stmt):
            if "lineno" in n._attributes:
                n.lineno = n.end_lineno = line
    return stmts


def _parse(text, line):
    return _at(ast.parse(textwrap.dedent(text)).body, line)


_HELPERS = None


def _helpers():
    """The runtime's scalar helpers written inline, and what they read (scalar_ops' own names)."""
    global _HELPERS
    if _HELPERS is None:
        from .runtime import scalar_ops as so
        _HELPERS = ({"scalar_elements": so.scalar_elements, "scalar_seed": so.scalar_seed,
                     "scalar_elements_gradient": so.scalar_elements_gradient},
                    {"I_ND": so._ndarray, "I_F64": so._F64, "I_ERRSTATE": so._errstate, "I_WARN": so._warnings,
                     "I_ALLOWED": so._ALLOWED, "I_FLOATS": so._floats_allowed, "I_UNSEL": so._UNSELECTED,
                     "I_NOTED": so.SITES_NOTED, "I_SEED": so.seed, "I_ARRAY": so._array, "I_SUM": sum,
                     "I_LEN": len, "I_TYPE": type, "I_FLOAT": float, "I_PROJECT": so.project,
                     "I_ELEMENTS": so._elements_gradient})
    return _HELPERS


def _helper_call(stmt, space, fresh, proved):
    """The statements for ``T = rt.<helper>(...)`` written inline (at its line); None if not one.
    ``proved``: the parameters the call's checks found exact 1-d float64 ndarrays, never assigned
    in the body (the helpers' tests of their class, dtype and rank left out for them)."""
    if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)
            and isinstance(stmt.value, ast.Call) and not stmt.value.keywords and
            isinstance(stmt.value.func, ast.Attribute) and isinstance(stmt.value.func.value, ast.Name)):
        return None
    functions, _ = _helpers()
    name, args, target = stmt.value.func.attr, stmt.value.args, stmt.targets[0].id
    if name not in functions or getattr(space.get(stmt.value.func.value.id), name, None) is not functions[name]:
        return None
    line = stmt.lineno
    if name == "scalar_elements" and len(args) == 1 and isinstance(args[0], ast.Name):
        p = args[0].id
        if p in proved:
            return _parse(f"""
            {target} = {p} if (I_ERRSTATE(), I_WARN.filters, I_WARN.defaultaction) == I_ALLOWED[0] or I_FLOATS() \
else None""", line)
        return _parse(f"""
            {target} = {p} if {p}.__class__ is I_ND and {p}.ndim == 1 and ({p}.dtype is I_F64 or {p}.dtype == I_F64) \
and ((I_ERRSTATE(), I_WARN.filters, I_WARN.defaultaction) == I_ALLOWED[0] or I_FLOATS()) else None""", line)
    if name == "scalar_seed" and len(args) == 1 and isinstance(args[0], ast.Name):
        y = args[0].id
        return _parse(f"""
            if I_TYPE({y}) is I_FLOAT:
                I_UNSEL.finite_y = {y} - {y} == 0.0
                if I_NOTED[0] and I_UNSEL.sites:
                    I_UNSEL.sites.clear()
                    I_UNSEL.ops.clear()
                {target} = 1.0
            else:
                {target} = I_SEED({y})""", line)
    if name == "scalar_elements_gradient" and len(args) == 3 and isinstance(args[0], ast.Name) and \
            isinstance(args[1], ast.Constant) and type(args[1].value) is int:
        p, first, e, s = args[0].id, args[1].value, fresh(), fresh()
        count = len(args[2].elts) if isinstance(args[2], ast.Tuple) and \
            not any(isinstance(a, ast.Starred) for a in args[2].elts) else f"I_LEN({e})"
        test = "" if p in proved else f"{p}.__class__ is I_ND and {p}.dtype is I_F64 and {p}.ndim == 1 and "
        out = _parse(f"""
            {e} = None
            if {test}I_LEN({p}) == {count}:
                {target} = I_ARRAY({e})
                if {target}.dtype is I_F64:
                    {s} = I_SUM({e}, 0.0)
                    if not ({s} == {s} or not (I_UNSEL.sites or I_UNSEL.finite_y)):
                        {target} = I_PROJECT({target}, {p})
                else:
                    {target} = I_ELEMENTS({p}, {first}, {e})
            else:
                {target} = I_ELEMENTS({p}, {first}, {e})""", line)
        out[0].value = args[2]          # the elements, evaluated first as the call's argument was
        return out
    return None


def _expand(stmts, space, fresh, sweeps, proved):
    """``stmts`` with the helpers written inline and the sweep calls in ``sweeps`` (by the
    statement's id: its statements and result) in place of their statements, recursively."""
    out = []
    for stmt in stmts:
        if id(stmt) in sweeps:
            inner, last = sweeps[id(stmt)]
            out += _expand(inner, space, fresh, sweeps, proved)
            assign = ast.Assign(targets=[stmt.targets[0]], value=last.value)
            out.append(ast.copy_location(assign, last))
            continue
        inline = _helper_call(stmt, space, fresh, proved)
        if inline is not None:
            out += inline
            continue
        for field in ("body", "orelse", "finalbody"):
            if isinstance(getattr(stmt, field, None), list):
                setattr(stmt, field, _expand(getattr(stmt, field), space, fresh, sweeps, proved))
        if isinstance(stmt, ast.Try):
            for handler in stmt.handlers:
                handler.body = _expand(handler.body, space, fresh, sweeps, proved)
        out.append(stmt)
    return out


def _proved_vector(checks: str, consts: dict, name: str) -> bool:
    """Whether ``checks`` (a call's checks) return MISS unless ``name`` is an exact 1-d float64
    ndarray (kinds.make_unwrapper's test of one), ``name`` assigned once, before it."""
    from .runtime import scalar_ops as so
    test = re.search(rf"^    if not \(type\({name}\) is ND and {name}\.dtype is (C\d+) and {name}\.ndim == 1\): "
                     rf"return MISS$", checks, re.M)
    assigned = re.findall(rf"^\s*{name} = ", checks, re.M)
    return test is not None and consts.get("ND") is so._ndarray and consts.get(test.group(1)) is so._F64 and \
        len(assigned) == 1 and checks.index(assigned[0]) < test.start() and \
        not re.search(rf"\b{name}\b\s*(,[^=\n]*)?=(?!=)", checks[test.end():])


def _known_tuple(stmts, ret, wrap_lines):
    """``wrap_lines`` without their test of the outputs' type and length where the entry's return
    gives a tuple it builds on the line before (``out_t = y, g; return out_t``): its elements read as
    they are (the tuple still ``o``, for the lines that give it to wrap_outputs)."""
    last = stmts[-1] if stmts else None
    if not (isinstance(ret.value, ast.Name) and isinstance(last, ast.Assign) and len(last.targets) == 1 and
            isinstance(last.targets[0], ast.Name) and last.targets[0].id == ret.value.id and
            isinstance(last.value, ast.Tuple) and all(isinstance(e, ast.Name) for e in last.value.elts)):
        return [], [], wrap_lines
    elts = [e.id for e in last.value.elts]
    prelude = ["    if type(o) is not tuple: return GENERIC(o)", "    try:",
               "        " + "".join(f"v{i}, " for i in range(len(elts))) + "= o",
               "    except ValueError:", "        return GENERIC(o)"]
    if list(wrap_lines[:5]) != prelude or ret.value.id in elts:
        return [], [], wrap_lines
    return ["    " + line for line in prelude], [f"v{i} = {e}" for i, e in enumerate(elts)], \
        list(wrap_lines[5:])


def inline_call(checks: str, consts: dict, result: str, entry, wrap_lines: list):
    """The call (f, args) -> outputs or MISS: ``checks`` (make_call_from's lines), the run of
    ``entry``'s body on ``result`` (the unwrapped arguments) and ``wrap_lines``; None where it
    cannot be built (see the module's docstring)."""
    from .parse import INLINED_NAMES, LINE_MAPS
    code = getattr(entry, "__code__", None)
    filename = getattr(code, "co_filename", "")
    if code is None or not _plain(entry, filename) or filename not in LINE_MAPS:
        return None
    try:
        values = ast.parse(result, mode="eval").body
    except SyntaxError:
        return None
    if not (isinstance(values, ast.Tuple) and all(isinstance(v, ast.Name) for v in values.elts) and
            len(values.elts) == code.co_argcount):
        return None
    try:
        tree = ast.parse("".join(linecache.cache[filename][2]))
    except (KeyError, IndexError, TypeError, SyntaxError):
        return None
    node = _function_node(tree, code)
    parts = _body(node) if node is not None else None
    if parts is None:
        return None
    space = entry.__globals__
    stmts, ret = parts
    params = list(code.co_varnames[:code.co_argcount])
    locals_ = set(code.co_varnames)
    reads = set(code.co_names)
    spans, sweeps = [], {}
    for stmt in (s for top in stmts for s in ast.walk(top) if isinstance(s, ast.stmt)):
        call = stmt.value if isinstance(stmt, ast.Assign) else None
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and len(stmt.targets) == 1
                and isinstance(stmt.targets[0], ast.Name)):
            continue
        sweep = space.get(call.func.id)
        if call.func.id in locals_ or not _plain(sweep, filename) or sweep is entry or sweep.__globals__ is not space:
            continue
        s_code = sweep.__code__
        s_node = _function_node(tree, s_code)
        s_parts = _body(s_node) if s_node is not None else None
        s_params = list(s_code.co_varnames[:s_code.co_argcount])
        if s_parts is None or call.keywords or [a.id if isinstance(a, ast.Name) else None
                                                for a in call.args] != s_params:
            continue
        own = set(s_code.co_varnames) - set(s_params)
        stored = {n.id for n in ast.walk(s_node) if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)}
        # (a sweep assigning one of its parameters, a loop's s or i: inlined it would change the entry's own
        # name of that value, which the entry may read after the call; red team redinl50)
        if stored & set(s_params) or own & (locals_ | reads) or set(s_code.co_names) & (locals_ | own) or \
                sum(isinstance(n, ast.Name) and n.id == call.func.id for n in ast.walk(tree)) != 1:
            continue
        sweeps[id(stmt)] = s_parts
        spans.append((s_node.lineno, s_node.end_lineno, s_code.co_name))
        locals_ |= own
        reads |= set(s_code.co_names)
    if reads & locals_:
        return None
    _, helper_consts = _helpers()
    if set(helper_consts) & set(consts):
        return None
    taken = _names(stmts + [ret]) | locals_ | reads
    counter = [0]

    def fresh():
        counter[0] += 1
        return f"__sct_t{counter[0]}"
    stored = {n.id for top in stmts + [s for inner, _ in sweeps.values() for s in inner]
              for n in ast.walk(top) if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)}
    proved = {p for p, v in zip(params, values.elts) if p not in stored and _proved_vector(checks, consts, v.id)}
    body = _expand(stmts, space, fresh, sweeps, proved)
    slow, known, wrap_lines = _known_tuple(stmts, ret, wrap_lines)
    consts = dict(consts, **helper_consts)
    name = code.co_name
    slow_lines = "".join(line + "\n" for line in slow)
    bind = "".join(f"{p} = {v.id}\n" for p, v in zip(params, values.elts))
    text = checks + f"""    if W._showwarnmsg is not HOOK:
        o = SLOW(ENTRY, {result})
{slow_lines}    else:
        try:
            {_PLACEHOLDER}
        except Exception as exc:
            located = AT(exc, ENTRY)
            if located is None:
                raise
            raise located from exc
""" + "\n".join(wrap_lines) + "\n"
    outer = ", ".join(consts)
    text = f"def make({outer}):\n    def {name}(f, args):\n" + textwrap.indent(text, "    ") + \
        f"    return {name}\n"
    try:
        module = ast.parse(text)
    except SyntaxError:
        return None
    glue_code = compile(text, "<sct-entry-call>", "exec").co_consts[0]
    glue_inner = next(c for c in glue_code.co_consts if isinstance(c, types.CodeType))
    glue_locals = set(glue_inner.co_varnames)
    glue_reads = set(glue_inner.co_names) - set(consts) - glue_locals
    clash = (taken | set(params)) & (glue_locals | set(consts) | {name, "make", _PLACEHOLDER})
    if clash or any(n in space for n in glue_reads if hasattr(builtins, n)) or \
            any(n.startswith("__sct_t") for n in taken):
        return None
    beyond = len(LINE_MAPS[filename][1]) + 1        # no user line: the call's own statements
    _at(module.body, beyond)
    run = _parse(bind, beyond) + body + [ast.copy_location(
        ast.Assign(targets=[ast.Name("o", ast.Store())], value=ret.value), ret)] + \
        _parse("".join(line + "\n" for line in known), beyond)
    for n in ast.walk(module):
        if isinstance(n, ast.Try) and isinstance(n.body[0], ast.Expr) and \
                isinstance(n.body[0].value, ast.Name) and n.body[0].value.id == _PLACEHOLDER:
            n.body = run
            break
    else:
        return None
    ast.fix_missing_locations(module)
    try:
        compiled = compile(module, filename, "exec")
    except (SyntaxError, ValueError):
        return None
    make = next(c for c in compiled.co_consts if isinstance(c, types.CodeType))
    function = types.FunctionType(make, space, "make")(*consts.values())
    function.source = ast.unparse(module)
    if spans:
        INLINED_NAMES[function.__code__] = tuple(spans)
    return function
