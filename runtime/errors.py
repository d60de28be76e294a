"""The exceptions of sct, defined in the runtime (the leaf) and re-exported as ``sct.SctError``,
``sct.CompileError`` and ``sct.EvaluationError``: generated code and the runtime raise them
without importing the compiler."""
from __future__ import annotations

from typing import Optional


class SctError(Exception):
    """Base of every error sct raises.

    >>> issubclass(CompileError, SctError), issubclass(EvaluationError, SctError)
    (True, True)
    """


def where(filename: Optional[str], lineno: Optional[int]) -> str:
    """``file, line N`` as Python prints it; in IPython/Jupyter a cell reads ``Cell In[9], line 2``
    (IPython compiles each cell under a temporary file name and maps it back the same way)."""
    if not filename:
        return ""
    import sys
    if "IPython" in sys.modules:
        try:
            ip = sys.modules["IPython"].get_ipython()
            data = ip.compile.format_code_name(filename) if ip is not None else None
        except Exception:
            data = None
        if data:
            label, name = data
            return f"{label} {name}, line {lineno}"
    return f"{filename}, line {lineno}"


class CompileError(SctError):
    """The compiler cannot transform the user's code; names the file, line and construct.

    >>> err = CompileError("cannot differentiate this", filename="model.py", lineno=3)
    >>> isinstance(err, SctError), err.lineno
    (True, 3)
    """

    def __init__(self, message: str, filename: Optional[str] = None,
                 lineno: Optional[int] = None, construct: Optional[str] = None):
        self.filename = filename
        self.lineno = lineno
        self.construct = construct
        super().__init__((where(filename, lineno) + ": " if filename else "") + message)


class EvaluationError(SctError):
    """The user's code failed while running (a shape or dtype mismatch, a bad value...).

    Names the user's file and line; the original exception is the ``__cause__``.

    >>> def f(x):
    ...     y = np.sum(x @ np.ones(3))
    ...     return y, dlgradient(y, x)
    ...
    >>> try:
    ...     dlfeval(f, dlarray([1.0, 2.0]))
    ... except EvaluationError as e:
    ...     print(type(e.__cause__).__name__)
    ...
    ValueError
    """

    def __init__(self, message: str, filename: Optional[str] = None, lineno: Optional[int] = None):
        self.filename = filename
        self.lineno = lineno
        super().__init__((where(filename, lineno) + ": " if filename else "") + message)


for _cls in (SctError, CompileError, EvaluationError):
    _cls.__module__ = "sct"          # users see sct.CompileError, not the module it lives in
