"""Exceptions of sct: all derive from ``SctError``."""
from __future__ import annotations

from typing import Optional

from runtime.support import SctRuntimeError

SctError = SctRuntimeError
SctError.__doc__ = "Base of every error sct raises."


class CompileError(SctError):
    """The compiler cannot transform the user's code; names the file, line and construct."""

    def __init__(self, message: str, filename: Optional[str] = None,
                 lineno: Optional[int] = None, construct: Optional[str] = None):
        self.filename = filename
        self.lineno = lineno
        self.construct = construct
        where = f"{filename}, line {lineno}: " if filename else ""
        super().__init__(where + message)


class EvaluationError(SctError):
    """The user's code failed while running (a shape or dtype mismatch, a bad value...).

    Names the user's file and line; the original exception is the ``__cause__``.
    """

    def __init__(self, message: str, filename: Optional[str] = None, lineno: Optional[int] = None):
        self.filename = filename
        self.lineno = lineno
        where = f"{filename}, line {lineno}: " if filename else ""
        super().__init__(where + message)
