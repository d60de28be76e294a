"""Exceptions of sct: all derive from ``SctError`` (defined in the runtime, which raises them too)."""
from .runtime.errors import CompileError, EvaluationError, SctError, evaluation_error_from, where  # noqa: F401
