"""Source and AST of a Python function, with the user's file and line numbers."""
from __future__ import annotations

import ast
import inspect
import linecache
import textwrap
from typing import Tuple

import gast

from .errors import CompileError


def function_ast(fn) -> Tuple[gast.FunctionDef, str, str]:
    """The gast FunctionDef of ``fn``, its file name and its source text.

    Line numbers in the tree are those of the file, so errors and the comments
    of generated code point at the user's lines.
    """
    code = fn.__code__
    filename = code.co_filename
    if fn.__name__ == "<lambda>":
        return _lambda_ast(fn)
    try:
        lines, start = inspect.getsourcelines(fn)
    except (OSError, TypeError) as exc:
        raise CompileError(
            f"cannot read the source of {fn.__qualname__}: {exc}. sct transforms Python "
            "source, so define the function in a file or a notebook cell (not with exec "
            "or in the interactive prompt)", filename, code.co_firstlineno, "source") from None
    source = textwrap.dedent("".join(lines))
    tree = gast.parse(source)
    fdef = tree.body[0]
    if isinstance(fdef, gast.AsyncFunctionDef) or inspect.iscoroutinefunction(fn):
        raise CompileError(f"{fn.__qualname__} is an async def: sct cannot differentiate a coroutine "
                           "(its body runs later, in an event loop). Make it a plain def and await "
                           "what it needs before calling dlfeval", filename, start, "async def")
    if not isinstance(fdef, (gast.FunctionDef,)):
        raise CompileError(f"{fn.__qualname__} is not defined by a def statement; "
                           "define it with def", filename, start, "definition")
    gast.increment_lineno(tree, start - 1)
    fdef.decorator_list = []
    return fdef, filename, source


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
    if len(found) != 1:
        why = "its source cannot be read" if not found else "several lambdas on that line compile alike"
        raise CompileError(f"cannot find the source of this lambda ({why}); define it with def",
                           filename, line, "lambda")
    node, text = found[0]
    fdef = ast.FunctionDef(name=f"lambda_line{line}", args=node.args, body=[ast.Return(value=node.body)],
                           decorator_list=[], returns=None, type_comment=None, type_params=[])
    ast.copy_location(fdef, node)
    ast.copy_location(fdef.body[0], node.body)
    ast.fix_missing_locations(fdef)
    fdef = gast.ast_to_gast(ast.Module(body=[fdef], type_ignores=[])).body[0]
    return fdef, filename, text


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


def register_source(filename: str, source: str) -> None:
    """Make generated source visible to inspect and to tracebacks."""
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)


def source_line(filename: str, lineno: int) -> str:
    return linecache.getline(filename, lineno).strip()


# generated file name -> (user's file name, user's line for each generated line)
LINE_MAPS = {}


def register_line_map(gen_filename: str, user_filename: str, source: str) -> None:
    """Remember which user line each generated line comes from (from the line comments)."""
    import re
    current = None
    lines = []
    for text in source.splitlines():
        m = re.match(r"\s*# (?:adjoint of (?:the (?:branch|loop) on )?|gradient at )?line (\d+)", text)
        if m:
            current = int(m.group(1))
        elif re.match(r"def ", text):
            current = None
        lines.append(current)
    LINE_MAPS[gen_filename] = (user_filename, lines)


def user_location(tb):
    """The user's (file, line, in_adjoint) for the innermost generated frame of a traceback."""
    found = None
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename in LINE_MAPS:
            user_file, lines = LINE_MAPS[filename]
            lineno = tb.tb_lineno
            if 0 < lineno <= len(lines) and lines[lineno - 1] is not None:
                found = (user_file, lines[lineno - 1], tb.tb_frame.f_code.co_name)
        tb = tb.tb_next
    return found
