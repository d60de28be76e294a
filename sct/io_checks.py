"""Traced values written out and read back in the same function.

``np.save(buf, x); y = np.load(buf)`` gives y the values of x, but a file or a buffer carries no
derivative: the gradient through y would be zero where the program's derivative is one.  A
function that writes a traced value with numpy's, pickle's or an array's writers and also reads
with their readers is refused at the reader's line (the write alone, a checkpoint or a debug dump,
is fine).
"""
from __future__ import annotations

import pickle

import gast
import numpy as np

from .errors import CompileError
from .ir import loaded_names, walk_no_defs, walk_nodes

_WRITERS = (np.save, np.savez, np.savez_compressed, np.savetxt, pickle.dump)
_READERS = (np.load, np.loadtxt, np.genfromtxt, np.fromfile, np.frombuffer, pickle.load, pickle.loads)
_WRITER_METHODS = frozenset({"tofile", "dump"})
_WRITER_NAMES = frozenset(f.__name__ for f in _WRITERS) | _WRITER_METHODS


def check_written_and_read(fdef: gast.FunctionDef, activity, filename: str) -> None:
    active = activity.active
    if not active or not any(isinstance(n, gast.Attribute) and n.attr in _WRITER_NAMES or
                             isinstance(n, gast.Name) and n.id in _WRITER_NAMES for n in walk_nodes(fdef)):
        return                           # (no writer named at all: most functions)
    # each call with the line of the statement holding it (the lowered calls carry none of their own)
    calls, lines = [], {}
    for st in walk_no_defs(fdef):
        if isinstance(st, gast.stmt) and not isinstance(st, (gast.FunctionDef, gast.For, gast.While, gast.If, gast.With,
                                                             gast.Try)):
            for n in gast.walk(st):
                if isinstance(n, gast.Call) and id(n) not in lines:
                    calls.append(n)
                    lines[id(n)] = getattr(st, "lineno", None) or fdef.lineno
    if not calls:
        return

    def target(call):
        return activity.resolver.object_of(call.func)

    def one_of(found, table) -> bool:
        return any(found is f for f in table)

    written = None
    for call in calls:
        found = target(call)
        traced = any(set(loaded_names(a)) & active for a in list(call.args) + [k.value for k in call.keywords])
        method_write = isinstance(call.func, gast.Attribute) and call.func.attr in _WRITER_METHODS and \
            isinstance(call.func.value, gast.Name) and call.func.value.id in active and found is None
        if traced and one_of(found, _WRITERS) or method_write:
            written = call
            break
    if written is None:
        return
    for call in calls:
        if one_of(target(call), _READERS):
            raise CompileError(
                f"a value is read back here from a file or buffer this function wrote a traced value into (line "
                f"{lines[id(written)]}): a file carries no derivative, so "
                "the gradient through what is read would be zero where the program's derivative is not. Keep the "
                "value itself (a name, a copy) instead of reading it back",
                filename, lines[id(call)], "a traced value read back from a file")
