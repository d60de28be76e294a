"""Source and AST of a Python function, with the user's file and line numbers."""
from __future__ import annotations

import ast
import importlib.machinery
import copy
import inspect
import types
import linecache
import weakref
import textwrap
from typing import List, Optional, Tuple

import gast

from .errors import CompileError
from .runtime import registry
from .runtime.registry import code_source_lines


def _code_function(fn, code):
    """A plain function of ``code`` and ``fn``'s globals, for ``inspect.getsourcelines``: the
    source of ``code`` itself (inspect follows a decorator's ``__wrapped__`` from ``fn``; this
    function has none), read as ``getsourcelines(code)`` reads it -- the same lines and start --
    but its module found by its ``__module__`` at once: for a code object ``inspect.getmodule``
    maps every loaded module's file (a ``realpath`` of each, about 20 ms the first time and after
    each import), which only picks the globals ``linecache`` reads a file not on disk with."""
    try:
        return types.FunctionType(code, getattr(fn, "__globals__", None) or {"__name__": None},
                                  None, None, tuple(types.CellType() for _ in code.co_freevars))
    except Exception:
        return code


_OLD_CONSTANTS = ("Num", "Str", "Bytes", "NameConstant", "Ellipsis")
_GastName = gast.Name


class _ToGast(gast.ast3.Ast3ToGAst):
    """``gast.ast_to_gast`` with a faster generic conversion (the node classes and visitors looked
    up once per class; each new node's fields and locations put in its ``__dict__`` in gast's
    order, as gast's constructor does with keywords): the same tree, about twice as fast.  The
    special cases (``Name``, ``arg``, ``FunctionDef``...) stay gast's own."""

    _classes: dict = {}

    def visit(self, node):
        cls = node.__class__
        info = self._classes.get(cls)
        if info is None:
            special = getattr(type(self), "visit_" + cls.__name__, None)
            if cls is ast.Constant and not any(hasattr(type(self), "visit_" + old) for old in _OLD_CONSTANTS):
                special = None      # ast.NodeVisitor.visit_Constant: generic_visit (no visit_Num...)
            info = self._classes[cls] = (getattr(gast, cls.__name__, None), cls._fields, cls._attributes,
                                         special)
        special = info[3]
        if special is not None:
            return special(self, node)
        return self.generic_visit(node, info)

    def _visit(self, node):
        if isinstance(node, ast.AST):
            return self.visit(node)
        if isinstance(node, list):
            return [self._visit(n) for n in node]
        return node

    def visit_Name(self, node):
        """gast's ``visit_Name``: ``gast.Name(id, ctx, None, None)`` and ``ast.copy_location``."""
        new = _GastName.__new__(_GastName)
        nd = new.__dict__
        nd["id"] = node.id
        nd["ctx"] = self.visit(node.ctx)
        nd["annotation"] = None
        nd["type_comment"] = None
        d = node.__dict__
        for name in ("lineno", "col_offset"):       # copied where not None
            value = d[name] if name in d else getattr(node, name, None)
            if value is not None:
                nd[name] = value
        for name in ("end_lineno", "end_col_offset"):      # copied where present, even None
            if name in d:
                nd[name] = d[name]
            elif hasattr(node, name):
                nd[name] = getattr(node, name)
        return new

    def generic_visit(self, node, info=None):
        if info is None:
            cls = node.__class__
            info = self._classes.get(cls) or (getattr(gast, cls.__name__, None), cls._fields, cls._attributes)
        to, fields, attributes = info[0], info[1], info[2]
        if to is None:          # not part of the AST (as gast's own converter)
            return None
        d = node.__dict__
        new = to.__new__(to)
        nd = new.__dict__
        visit, AST = self.visit, ast.AST
        for field in fields:
            if field in d:
                value = d[field]
            elif hasattr(node, field):
                value = getattr(node, field)
            else:
                continue
            if isinstance(value, AST):      # (self._visit, its cases inlined)
                nd[field] = visit(value)
            elif value.__class__ is list:
                nd[field] = [visit(v) if isinstance(v, AST) else self._visit(v) for v in value]
            else:
                nd[field] = self._visit(value)
        for name in attributes:
            if name in d:
                nd[name] = d[name]
            else:
                try:
                    nd[name] = getattr(node, name)
                except AttributeError:
                    pass
        return new


def ast_to_gast(node):
    """``gast.ast_to_gast(node)`` (``_ToGast``)."""
    return _ToGast().visit(node)


def function_ast(fn) -> Tuple[gast.FunctionDef, str, str]:
    """The gast FunctionDef of ``fn``, its file name and its source text.

    Line numbers in the tree are those of the file, so errors and the comments
    of generated code point at the user's lines.
    """
    original = getattr(fn, "__sct_positional_of__", None)
    if original is not None:       # rt.positional(f): f's tree, its keyword-only parameters made positional
        fdef, filename, source = function_ast(original)
        args = fdef.args
        if args.vararg is not None and getattr(fn, "__sct_keywords_positional__", False) and args.kwarg is not None:
            # keywords_positional(f) of f(x, *args, **kw): its *args a tuple, then **kw a dict, by position
            args.args = args.args + args.kwonlyargs + [args.vararg, args.kwarg]
            args.vararg = args.kwarg = None
            args.defaults, args.kwonlyargs, args.kw_defaults = [], [], []
        elif args.vararg is None:
            defaults = [None] * (len(args.posonlyargs) + len(args.args) - len(args.defaults)) + list(args.defaults) + \
                list(args.kw_defaults)
            args.args = args.args + args.kwonlyargs
            count = len(fn.__defaults__ or ())
            args.defaults = defaults[len(defaults) - count:] if count else []
            args.kwonlyargs, args.kw_defaults = [], []
            if getattr(fn, "__sct_keywords_positional__", False) and args.kwarg is not None:
                # runtime.support.keywords_positional(f): **kw the last positional parameter, no defaults
                args.args = args.args + [args.kwarg]
                args.kwarg = None
                args.defaults = []
        return fdef, filename, source
    gathered = getattr(fn, "__sct_items_tree__", None)
    if gathered is not None:       # generator_items(g): g's tree, its items gathered into a list
        fdef, filename, source = gathered
        return copy.deepcopy(fdef), filename, source
    code = fn.__code__
    filename = code.co_filename
    if fn.__name__ == "<lambda>" or code.co_name == "<lambda>":      # (a lambda renamed: its code says)
        fdef, filename, text = _lambda_ast(fn)
        _mangle_private_names(fdef, fn)
        return fdef, filename, text
    try:
        # the source of fn's own code: inspect would follow a decorator's __wrapped__ to
        # the function it wraps (another body, maybe another file)
        found = code_source_lines(code, getattr(fn, "__globals__", None))
        lines, start = found if found is not None else inspect.getsourcelines(_code_function(fn, code))
    except (OSError, TypeError) as exc:
        raise CompileError(
            f"cannot read the source of {fn.__qualname__}: {exc}. sct transforms Python "
            "source, so define the function in a file or a notebook cell (not with exec "
            "or in the interactive prompt)", filename, code.co_firstlineno, "source") from None
    source = textwrap.dedent("".join(lines))
    # parsed once, after start - 1 empty lines (the file's line numbers, without a walk over
    # every node to move them): the tree sct reads, then the one check_source_matches compiles
    try:
        parsed = ast.parse("\n" * (start - 1) + source)
    except SyntaxError:
        parsed = None           # (the file was changed: check_source_matches says so)
    if found is not None and not (parsed is not None and len(parsed.body) == 1 and
                                  isinstance(parsed.body[0], (ast.FunctionDef, ast.AsyncFunctionDef))):
        # (the lines of the code's positions are not one def: a code object made by a decorator, say)
        lines, start = inspect.getsourcelines(_code_function(fn, code))
        source = textwrap.dedent("".join(lines))
        try:
            parsed = ast.parse("\n" * (start - 1) + source)
        except SyntaxError:
            parsed = None
    tree = ast_to_gast(parsed) if parsed is not None else None
    if tree is not None and "except" in source:
        _handler_name_lines(tree, start - 1)
    if not filename.startswith("<sct-generated"):
        check_source_matches(fn, source, start, filename, parsed)
    if tree is None:
        tree = gast.parse(source)
        _increment_lineno(tree, start - 1)
    fdef = tree.body[0]
    if isinstance(fdef, gast.AsyncFunctionDef) or inspect.iscoroutinefunction(fn):
        raise CompileError(f"{fn.__qualname__} is an async def: sct cannot differentiate a coroutine "
                           "(its body runs later, in an event loop). Make it a plain def and await "
                           "what it needs before calling dlfeval", filename, start, "async def")
    if not isinstance(fdef, (gast.FunctionDef,)):
        raise CompileError(f"{fn.__qualname__} is not defined by a def statement; "
                           "define it with def", filename, start, "definition")
    fdef.decorator_list = []
    _mangle_private_names(fdef, fn)
    return fdef, filename, source


def _increment_lineno(tree, n: int) -> None:
    """``gast.increment_lineno`` over ``sct.ir.walk_nodes`` (the context and operator leaves it
    skips have no line attributes), several times faster."""
    from .ir import walk_nodes
    for child in walk_nodes(tree):
        attributes = child._attributes
        if "lineno" in attributes:
            child.lineno = (getattr(child, "lineno", 0) or 0) + n
        if "end_lineno" in attributes:
            child.end_lineno = (getattr(child, "end_lineno", 0) or 0) + n


def _handler_name_lines(tree, n: int) -> None:
    """The one node gast makes without a line, the name of ``except E as name``: the lines
    ``_increment_lineno(tree, n)`` gives it (its other nodes have the file's lines from the parse)."""
    from .ir import walk_nodes
    for node in walk_nodes(tree):
        if isinstance(node, gast.ExceptHandler) and isinstance(node.name, gast.Name):
            name = node.name
            name.lineno = (getattr(name, "lineno", 0) or 0) + n
            name.end_lineno = (getattr(name, "end_lineno", 0) or 0) + n


def _enclosing_class(fn) -> str:
    """The name of the class whose body (lexically) holds ``fn``, '' if none (from __qualname__:
    a scope followed by ``<locals>`` is a function, any other enclosing scope a class)."""
    parts = getattr(fn, "__qualname__", "").split(".")
    for i in range(len(parts) - 2, -1, -1):
        if parts[i] == "<locals>" or parts[i + 1] == "<locals>":
            continue
        return parts[i]
    return ""


def _mangle_private_names(fdef, fn) -> None:
    """Python's private name mangling, as the compiler of a class body does: in code written
    inside ``class Model``, ``self.__k`` and ``__k`` mean ``_Model__k``."""
    cls = _enclosing_class(fn).lstrip("_")
    if not cls:
        return

    def mangled(name):
        if isinstance(name, str) and name.startswith("__") and not name.endswith("__") and "." not in name:
            return f"_{cls}{name}"
        return name
    for node in gast.walk(fdef):
        if isinstance(node, gast.Attribute):
            node.attr = mangled(node.attr)
        elif isinstance(node, gast.Name):
            node.id = mangled(node.id)
        elif isinstance(node, (gast.FunctionDef, gast.ClassDef)) and node is not fdef:
            node.name = mangled(node.name)
        elif isinstance(node, gast.alias) and node.asname is not None:
            node.asname = mangled(node.asname)


def _lambda_ast(fn) -> Tuple[gast.FunctionDef, str, str]:
    """A lambda as ``def <lambda>(params): return body``, found in its file by line and code.

    The whole file (or notebook cell) is parsed; of the lambdas that start on
    the lambda's line, the one whose compiled code equals ``fn.__code__`` is
    taken, so several lambdas on one line are told apart.  A lambda whose
    source cannot be identified is refused rather than guessed.
    """
    code = fn.__code__
    filename, line = code.co_filename, code.co_firstlineno
    source = "".join(linecache.getlines(filename, fn.__globals__))
    try:
        tree = ast.parse(source)
    except SyntaxError:
        tree = None
    found = []
    for node in ast.walk(tree) if tree is not None else ():
        if isinstance(node, ast.Lambda) and node.lineno == line and _same_lambda(node, code):
            found.append((node, ast.get_source_segment(source, node)))
    if not found and tree is not None and hasattr(code, "co_positions"):
        # a body Python compiles to jumps (a conditional expression, `and`/`or`) has no one
        # instruction spanning it: the lambda whose body holds every instruction of the code,
        # the innermost one where lambdas nest
        inside = [node for node in ast.walk(tree) if isinstance(node, ast.Lambda)
                  and node.lineno == line and _lambda_holds_code(node, code)]
        inside = [node for node in inside
                  if not any(other is not node and _span_holds(node.body, other.body) for other in inside)]
        found = [(node, ast.get_source_segment(source, node)) for node in inside]
    if len(found) != 1:
        why = "its source cannot be read" if not found else "several lambdas on that line compile alike"
        raise CompileError(f"cannot find the source of this lambda ({why}); define it with def",
                           filename, line, "lambda")
    node, text = found[0]
    if not filename.startswith("<sct-generated"):
        _check_lambda_code(fn, source, filename)
    fdef = ast.FunctionDef(name=f"lambda_line{line}", args=node.args, body=[ast.Return(value=node.body)],
                           decorator_list=[], returns=None, type_comment=None, type_params=[])
    ast.copy_location(fdef, node)
    ast.copy_location(fdef.body[0], node.body)
    ast.fix_missing_locations(fdef)
    fdef = ast_to_gast(ast.Module(body=[fdef], type_ignores=[])).body[0]
    return fdef, filename, text


_FILE_CODES: dict = {}   # file name -> (its text as read, its module code compiled from that text)


def _check_lambda_code(fn, source: str, filename: str) -> None:
    """Refuse a lambda whose text (found by line and columns) is not the code that runs: the
    file was edited after its module was imported, or a notebook cell's text was replaced by
    another run under the same name.  The whole text is compiled (the lambda in its scopes)
    and one lambda of it on that line must have ``fn``'s code."""
    code = fn.__code__
    entry = linecache.cache.get(filename)
    if entry is None or len(entry) < 2:
        return
    in_memory = entry[1] is None
    cached = _FILE_CODES.get(filename)
    if cached is not None and cached[0] == source:
        module_code = cached[1]
    else:
        try:
            # (a notebook cell may await at its top level)
            module_code = compile(source, filename, "exec", dont_inherit=True,
                                  flags=(code.co_flags & _FUTURE_FLAGS) | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
        except (SyntaxError, ValueError, TypeError):
            module_code = None
        if len(_FILE_CODES) > 16:
            _FILE_CODES.clear()
        _FILE_CODES[filename] = (source, module_code)
    todo = [module_code] if module_code is not None else []
    while todo:
        c = todo.pop()
        if c.co_name == "<lambda>" and c.co_firstlineno == code.co_firstlineno and _same_code(c, code):
            return
        todo.extend(k for k in c.co_consts if inspect.iscode(k))
    if not in_memory:
        loader = getattr(inspect.getmodule(fn), "__loader__", None)
        if not isinstance(loader, (importlib.machinery.SourceFileLoader, type(None))):
            return          # an import hook that may rewrite code (pytest's included): cannot tell
    raise _stale_source(fn, filename, in_memory, "lambda")


def _same_lambda(node: ast.Lambda, code) -> bool:
    """Whether ``code`` was compiled from ``node``: same parameters and, where Python
    records columns (3.11+), an instruction spanning exactly the lambda's body."""
    params = [a.arg for a in node.args.posonlyargs + node.args.args + node.args.kwonlyargs]
    if list(code.co_varnames[:len(params)]) != params:
        return False
    if not hasattr(code, "co_positions"):
        return True
    body = node.body
    return (body.lineno, body.end_lineno, body.col_offset, body.end_col_offset) in set(code.co_positions())


def _span_holds(outer, inner) -> bool:
    """Whether the source span of node ``outer`` holds that of node ``inner``."""
    return ((outer.lineno, outer.col_offset) <= (inner.lineno, inner.col_offset) and
            (inner.end_lineno, inner.end_col_offset) <= (outer.end_lineno, outer.end_col_offset))


def _lambda_holds_code(node: ast.Lambda, code) -> bool:
    """Whether every instruction of ``code`` that has a source span lies in ``node``'s body
    (and the parameters are the same)."""
    params = [a.arg for a in node.args.posonlyargs + node.args.args + node.args.kwonlyargs]
    if list(code.co_varnames[:len(params)]) != params:
        return False
    body = node.body
    start, end = (body.lineno, body.col_offset), (body.end_lineno, body.end_col_offset)
    spans = [(a, b, c, d) for a, b, c, d in code.co_positions()
             if None not in (a, b, c, d) and (a, c) != (b, d)]
    return bool(spans) and all(start <= (a, c) and (b, d) <= end for a, b, c, d in spans)


def register_source(filename: str, source: str) -> None:
    """Make generated source visible to inspect and to tracebacks."""
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)


def source_line(filename: str, lineno: int) -> str:
    from .runtime.errors import real_location
    filename, lineno = real_location(filename, lineno)
    return linecache.getline(filename, lineno).strip()


# generated file name -> (user's file name, user's line for each generated line)
LINE_MAPS = {}
# The code of a call with generated functions' lines in it (sct/entry_inline.py) -> ((first, last,
# name), ...): the lines of the function ``name`` it runs, the name user_location reports for them.
INLINED_NAMES: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def register_line_map(gen_filename: str, user_filename: str, lines: List[Optional[int]]) -> None:
    """Remember which user line each generated line comes from (the table the printer built
    from the line comments' nodes: ``emit.source_and_lines``)."""
    LINE_MAPS[gen_filename] = (user_filename, list(lines))


def _sct_file(filename) -> bool:
    """A file of sct's compiler or runtime (their Python code is compiled like a user's when it
    is called from differentiated code: a layer's forward, a runtime check)."""
    import os
    import sys
    if not isinstance(filename, str) or filename.startswith("<sct-generated"):
        return True
    dirs = [os.path.dirname(os.path.abspath(__file__))]
    rt = sys.modules.get("sct.runtime")
    if rt is not None and getattr(rt, "__file__", None):
        dirs.append(os.path.dirname(os.path.abspath(rt.__file__)))
    path = os.path.abspath(filename)
    return any(path.startswith(d + os.sep) for d in dirs)


_LIBRARY_ROOTS: list = []


def library_file(filename) -> bool:
    """A file of Python's standard library or of an installed package (json, pickle, logging,
    site-packages): code the user did not write and cannot change (sct's own files are not)."""
    import os
    if not isinstance(filename, str) or not filename or filename.startswith("<") or _sct_file(filename):
        return False
    if not _LIBRARY_ROOTS:
        import site
        import sysconfig
        roots = [sysconfig.get_paths().get(k) for k in ("stdlib", "platstdlib", "purelib", "platlib")]
        try:
            roots += list(site.getsitepackages()) + [site.getusersitepackages()]
        except AttributeError:        # a virtualenv's old site module
            pass
        _LIBRARY_ROOTS.extend(sorted({os.path.realpath(r) + os.sep for r in roots if r}))
    path = os.path.realpath(filename)
    return any(path.startswith(root) for root in _LIBRARY_ROOTS)


def user_location(tb):
    """The user's (file, line, in_adjoint) for the innermost generated frame of a traceback.

    A frame compiled from sct's own Python code (a network's layer, a runtime helper) is
    passed over for the innermost one compiled from the user's file that led to it: the
    user's line is where the call was made; so is one compiled from a library's file (json.dumps
    given a traced value: the user's call of it, not json's line)."""
    found = found_user = found_library = None
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename in LINE_MAPS:
            user_file, lines = LINE_MAPS[filename]
            lineno = tb.tb_lineno
            if 0 < lineno <= len(lines) and lines[lineno - 1] is not None:
                name = tb.tb_frame.f_code.co_name
                for first, last, inlined in INLINED_NAMES.get(tb.tb_frame.f_code, ()):
                    if first <= lineno <= last:
                        name = inlined
                found = (user_file, lines[lineno - 1], name)
                for _ in range(8):        # generated from generated code: back to the user's
                    if found[0] not in LINE_MAPS:
                        break
                    outer_file, outer_lines = LINE_MAPS[found[0]]
                    if not (0 < found[1] <= len(outer_lines)) or outer_lines[found[1] - 1] is None:
                        break
                    found = (outer_file, outer_lines[found[1] - 1], found[2])
                if library_file(found[0]):
                    found_library = found
                elif not _sct_file(found[0]):
                    found_user = found
        tb = tb.tb_next
    return found_user or found_library or found


# --- the source read must be the source of the code that runs ------------------------------------

def _future_mask() -> int:
    import __future__
    mask = 0
    for name in __future__.all_feature_names:
        mask |= getattr(__future__, name).compiler_flag
    return mask


_FUTURE_FLAGS = _future_mask()
_KIND_FLAGS = inspect.CO_VARARGS | inspect.CO_VARKEYWORDS | inspect.CO_GENERATOR | inspect.CO_COROUTINE | \
    inspect.CO_ASYNC_GENERATOR | inspect.CO_ITERABLE_COROUTINE


def check_source_matches(fn, source: str, start: int, filename: str, parsed=None) -> None:
    """Refuse when the source text sct read is not the source of ``fn.__code__``.

    ``inspect`` reads the file as it is now: edited after the module was imported
    (without a reload), it shows code that is not what runs.  The text read is
    compiled again, in the scopes it came from (its closure's names as locals of an
    enclosing function, its class for private names and ``super()``), and its
    bytecode, names, constants and lines must be those of the running function.  ``parsed``:
    ``ast.parse`` of the text after ``start - 1`` empty lines, where already parsed (used once:
    compiling it may change it).
    """
    code = fn.__code__
    entry = linecache.cache.get(filename)
    if entry is None or len(entry) < 2:
        return
    # source registered in memory (a notebook cell, exec) is checked too: a tool that runs a
    # cell again under the same file name (an edited cell) replaces the text of the first run
    in_memory = entry[1] is None
    if code.co_name == "<lambda>":
        return              # refused as a lambda by function_ast
    module = inspect.getmodule(fn)
    loader = getattr(module, "__loader__", None) if not in_memory else None
    for imports in (True, False):
        try:
            given, parsed = parsed, None
            compiled = _compile_alone(fn, source, start, filename, imports, loader, given)
        except (SyntaxError, ValueError, TypeError):
            compiled = None
        if compiled is not None and _same_code(compiled, code):
            return
        if compiled is not None and _same_code(compiled, code, margins=True):
            # the text read (dedented, a method's or nested def's) differs from the running code only in
            # the margins of multi-line strings it uses: not a changed file (was said to be one)
            raise CompileError(
                f"{fn.__qualname__} uses a multi-line string literal (other than its docstring) inside a "
                f"method or nested def: sct reads such a def's text with its indentation taken off, which "
                f"would change the string's lines. Define the string at module level (or build it with "
                f"'\\n'.join(...))", filename, code.co_firstlineno, "def " + fn.__name__)
    if not isinstance(loader, (importlib.machinery.SourceFileLoader, type(None))) and \
            type(loader).__module__ != "_pytest.assertion.rewrite":
        return              # an import hook that may rewrite code (unknown to sct): cannot tell
    raise _stale_source(fn, filename, in_memory, "def " + fn.__name__)


registry.CHECK_SOURCE[:] = [check_source_matches]     # (rules read from their files: checked the same way)


def _stale_source(fn, filename: str, in_memory: bool, construct: str) -> CompileError:
    code = fn.__code__
    name = "the lambda" if fn.__name__ == "<lambda>" else fn.__qualname__
    if in_memory:
        why = (f"the text held for {filename} (a notebook cell or exec'd code) was replaced after "
               f"{name} was defined (a cell run again under the same name). Run the cell that "
               f"defines {name} again, so that the function and its text agree")
    else:
        why = (f"the file was changed after {name} was defined. Reload its module (importlib.reload, "
               "or %autoreload in IPython) or restart, so that the function and its file agree")
    return CompileError(f"the source of {name} in {filename} (line {code.co_firstlineno}) is not the "
                        f"code that runs: {why}", filename, code.co_firstlineno, construct)


def _compile_alone(fn, source: str, start: int, filename: str, with_imports: bool = True, loader=None,
                   parsed=None):
    import ast
    code = fn.__code__
    # parsed after start - 1 empty lines: the lines ast.increment_lineno(tree, start - 1) gives,
    # without its walk over every node
    tree = ast.parse("\n" * (start - 1) + source) if parsed is None else parsed
    if not tree.body or not isinstance(tree.body[0], (ast.FunctionDef, ast.AsyncFunctionDef)):
        return None
    node = tree.body[0]
    parts = fn.__qualname__.split(".")
    free = [n for n in code.co_freevars if n != "__class__"]
    # names the module imports: Python compiles ``name.method(...)`` differently for them
    imports = "".join(f"import {name}\n" for name in sorted(_module_imports(filename, fn))) \
        if with_imports else ""
    template, indent = "", ""
    if free:
        template += "def __sct_enclosing__():\n    " + " = ".join(free) + " = None\n"
        indent = "    "
    if len(parts) > 1 and parts[-2] != "<locals>" and parts[-2].isidentifier():
        template += f"{indent}class {parts[-2]}:\n"
        indent += "    "
    if template:
        wrapper = ast.parse(template + indent + "pass\n")
        inner = wrapper.body[0]
        while isinstance(inner.body[-1], (ast.ClassDef, ast.FunctionDef)):
            inner = inner.body[-1]
        inner.body[-1:] = [node]          # in place of the pass
        tree = wrapper
    if imports:
        tree.body[:0] = ast.parse(imports).body
    if type(loader).__module__ == "_pytest.assertion.rewrite":     # pytest rewrites asserts
        from _pytest.assertion.rewrite import rewrite_asserts
        text = "".join(linecache.getlines(filename)).encode()
        rewrite_asserts(tree, text, filename, getattr(loader, "config", None))
    module = compile(tree, filename, "exec", flags=code.co_flags & _FUTURE_FLAGS, dont_inherit=True)
    return _find_code(module, code.co_name)


_IMPORTS: dict = {}      # file name -> (its lines as read, the names its module scope imports)


def _module_imports(filename: str, fn) -> frozenset:
    module = inspect.getmodule(fn)
    lines = linecache.getlines(filename, module.__dict__ if module is not None else None)
    cached = _IMPORTS.get(filename)
    if cached is not None and cached[0] is lines:
        return cached[1]
    import ast
    names = set()
    try:
        tree = ast.parse("".join(lines))
    except (SyntaxError, ValueError):
        tree = ast.Module(body=[], type_ignores=[])
    todo = list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.name != "*":
                    names.add(alias.asname or alias.name.split(".")[0])
        elif not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            todo.extend(child for child in ast.iter_child_nodes(node) if isinstance(child, ast.stmt) or
                        isinstance(child, (ast.excepthandler, ast.match_case)))
    if len(_IMPORTS) > 64:
        _IMPORTS.clear()
    _IMPORTS[filename] = (lines, frozenset(names))
    return _IMPORTS[filename][1]


def _find_code(code, name: str):
    for const in code.co_consts:
        if inspect.iscode(const):
            if const.co_name == name:
                return const
            found = _find_code(const, name)
            if found is not None:
                return found
    return None


def _same_code(a, b, margins: bool = False) -> bool:
    if a.co_code != b.co_code or (a.co_flags ^ b.co_flags) & _KIND_FLAGS:
        return False
    for attr in ("co_argcount", "co_posonlyargcount", "co_kwonlyargcount", "co_names", "co_varnames",
                 "co_freevars", "co_cellvars", "co_firstlineno", "co_exceptiontable"):
        if getattr(a, attr, None) != getattr(b, attr, None):
            return False
    if [line for _, _, line in a.co_lines()] != [line for _, _, line in b.co_lines()]:
        return False
    if len(a.co_consts) != len(b.co_consts):
        return False
    for i, (x, y) in enumerate(zip(a.co_consts, b.co_consts)):
        if i == 0 and _same_docstring(a, x, y):
            continue
        if inspect.iscode(x):
            if not (inspect.iscode(y) and _same_code(x, y, margins)):
                return False
        elif isinstance(x, str) and isinstance(y, str) and x != y and _class_qualname(a, x, y):
            continue
        elif margins and isinstance(x, str) and isinstance(y, str) and x != y and \
                [line.lstrip() for line in x.splitlines()] == [line.lstrip() for line in y.splitlines()]:
            continue
        elif type(x) is not type(y) or repr(x) != repr(y) and (isinstance(x, (float, complex)) or x != y):
            return False
    return True


def _class_qualname(code, x, y) -> bool:
    """Are ``x`` and ``y`` the ``__qualname__`` of the class whose body ``code`` is, as compiled from the
    text alone and as running, the same but for the path of the functions around the text (a class
    statement in a nested def, ``f.<locals>.C`` where the text alone gives ``C``'s qualified name without
    ``outer.<locals>.``)?  (was: such a function refused as 'the file was changed', sct/local_classes.py)"""
    return not code.co_flags & inspect.CO_OPTIMIZED and (x == code.co_name or x.endswith("." + code.co_name)) and \
        y.endswith(".<locals>." + x) and "__qualname__" in code.co_names


def _same_docstring(code, x, y) -> bool:
    """Are ``x`` and ``y``, the first constants of a def's code compiled from the text sct read and
    of the running code, its docstring, the same but for the indentation the text lost?  A nested def
    or a method is read dedented (``textwrap.dedent``), which takes the margin off the docstring's
    later lines too (Python before 3.13 keeps a docstring's text as written): its multi-line
    docstring differed, and every such method or closure was refused as 'the file was changed'.
    The docstring is never run (the generated code does not read it); other string constants must
    still be equal (a multi-line string the code uses would have lost its margin too)."""
    return (isinstance(x, str) and isinstance(y, str) and x != y and
            bool(code.co_flags & inspect.CO_OPTIMIZED) and not code.co_name.startswith("<") and
            _docstring_first(code) and inspect.cleandoc(x) == inspect.cleandoc(y))


def _docstring_first(code) -> bool:
    """Does a def's first constant hold its docstring (Python before 3.14 keeps the docstring, or
    None, there; 3.14 says so by CO_HAS_DOCSTRING)?"""
    flag = getattr(inspect, "CO_HAS_DOCSTRING", None)
    return flag is None or bool(code.co_flags & flag)


def user_line(filename, lineno):
    """The user's file and line that line ``lineno`` of generated code ``filename`` was made from
    (generated code differentiated again maps to generated code: followed)."""
    mapped = LINE_MAPS.get(filename)
    for _ in range(16):
        if mapped is None:
            break
        lines = mapped[1]
        user_line = lines[lineno - 1] if 0 < lineno <= len(lines) else None
        filename, lineno = mapped[0], user_line or min([n for n in lines if n] or [1])
        mapped = LINE_MAPS.get(filename)
    from .runtime.errors import real_location
    return real_location(filename, lineno)


def copied_user_def(fn) -> bool:
    """Is ``fn`` a nested def (or lambda) of the user's that generated code holds, copied as the user
    wrote it (its code's file and module are sct's, ``sct_generated....<locals>.h``), not a function
    sct wrote?  It is compiled as the user's code: its writes checked, its methods read in place, its
    changes of outside objects guarded where recomputed (was: taken for sct's own code, trusted: a
    nested def setting an attribute of, or appending to, an object it was given, or calling a method
    that does, gave wrong values and gradients)."""
    fn = getattr(fn, "__func__", fn)
    code = getattr(fn, "__code__", None)
    return code is not None and code.co_filename.startswith("<sct-generated") and \
        not getattr(fn, "__sct_generated__", False) and "<locals>" in getattr(fn, "__qualname__", "")
