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


# Lines of another file read in place (a helper defined in another notebook cell, inlined by
# sct/inline_helpers.py): numbered from a base of their own in the caller's file, so every pass
# keeps one file name per function; each error decodes them back to the helper's file and line.
LINE_BASE = 1 << 24
_FOREIGN = {}        # base -> the helper's file
_BASES = {}          # (the caller's file, the helper's file) -> base (unique over all files)


def foreign_base(host: str, foreign: str) -> int:
    """The base added to the lines of ``foreign`` read in place in code of ``host``."""
    base = _BASES.get((host, foreign))
    if base is None:
        base = LINE_BASE * (1 + len(_BASES))
        _BASES[(host, foreign)] = base
        _FOREIGN[base] = foreign
    return base


def real_location(filename, lineno):
    """(file, line) of a line numbered by :func:`foreign_base` (others unchanged)."""
    if isinstance(lineno, int) and lineno >= LINE_BASE:
        base = lineno - lineno % LINE_BASE
        foreign = _FOREIGN.get(base)
        if foreign is not None:
            return foreign, lineno - base
    return filename, lineno


def _located_message(message: str, filename, lineno):
    """The error's file and line decoded (:func:`real_location`), and the lines its message names
    ("line N") too: ``(message, file, line)``."""
    import re
    real_file, real_line = real_location(filename, lineno)
    if filename and LINE_BASE <= max((int(n) for n in re.findall(r"\d+", message)), default=0):
        def decode(match):
            file, line = real_location(filename, int(match.group(1)))
            return f"line {line}" if file == real_file else where(file, line)
        message = re.sub(r"\bline (\d+)", decode, message)
    return message, real_file, real_line


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
        message, filename, lineno = _located_message(message, filename, lineno)
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
        message, filename, lineno = _located_message(message, filename, lineno)
        self.filename = filename
        self.lineno = lineno
        super().__init__((where(filename, lineno) + ": " if filename else "") + message)


for _cls in (SctError, CompileError, EvaluationError):
    _cls.__module__ = "sct"          # users see sct.CompileError, not the module it lives in


_ALSO: dict = {}                     # the class of an error the user's code raised -> its EvaluationError

# (what every exception has, set by Python or by sct: not copied from the user's error)
_OWN = frozenset(("__dict__", "__weakref__", "args", "__traceback__", "__cause__", "__context__",
                  "__suppress_context__", "__notes__"))


def _also_str(self):
    return self.__dict__.get("_sct_message", BaseException.__str__(self))


def _also_reduce(self):
    """Pickled (a process pool's worker, ``copy.deepcopy``) as what it was made from: the user's class,
    the message, the user's args and fields, sct's location (not the tracebacks sct keeps)."""
    fields = {k: v for k, v in self.__dict__.items()
              if k not in ("_sct_message", "sct_traceback", "sct_cause_traceback", "sct_location")}
    filename, lineno = self.__dict__.get("sct_location", (None, None))
    return (_rebuilt, (type(self).__bases__[1], self._sct_message, filename, lineno, self.args, fields,
                       _held_slots(self, type(self).__bases__[1])))


def _held_slots(exc, cls) -> dict:
    """The values of ``exc``'s C-level and ``__slots__`` fields that ``cls`` (an exception class) adds
    to BaseException's: OSError's errno, strerror and filename, UnicodeDecodeError's object, start and
    end, StopIteration's value, a user's ``__slots__``."""
    import types
    out = {}
    for klass in cls.__mro__:
        if klass in (BaseException, object):
            continue
        for name, field in vars(klass).items():
            if name in _OWN or name in out or \
                    not isinstance(field, (types.MemberDescriptorType, types.GetSetDescriptorType)):
                continue
            try:
                out[name] = (field, field.__get__(exc, type(exc)))
            except Exception:
                pass
    return {name: value for name, (_, value) in out.items()}


def _set_held(error, cls, values: dict) -> None:
    import types
    for klass in cls.__mro__:
        for name, field in vars(klass).items():
            if name in values and isinstance(field, (types.MemberDescriptorType, types.GetSetDescriptorType)):
                try:
                    field.__set__(error, values.pop(name))
                except Exception:
                    pass


def _rebuilt(cls, message, filename, lineno, args, fields, slots=None):
    also = _combined(cls)
    if also is EvaluationError:
        return EvaluationError(message, filename, lineno)
    return _filled(also, cls, message, filename, lineno, args, fields, dict(slots or {}), located=True)


def _combined(cls):
    also = _ALSO.get(cls)
    if also is None:
        try:
            also = type("EvaluationError", (EvaluationError, cls), {
                "__module__": "sct", "__qualname__": "EvaluationError", "__doc__": EvaluationError.__doc__,
                # (the message, as EvaluationError's: not the other class's own, KeyError's repr of it)
                "__str__": _also_str, "__repr__": BaseException.__repr__, "__reduce__": _also_reduce,
                "__init__": EvaluationError.__init__})
        except TypeError:
            also = EvaluationError
        if len(_ALSO) < 256:
            _ALSO[cls] = also
    return also


def _filled(also, cls, message, filename, lineno, args, fields, slots, located=False):
    error = also.__new__(also)
    BaseException.__init__(error, *args)         # (the user's args: ``except KeyError as e: e.args[0]``)
    _set_held(error, cls, dict(slots))           # (OSError's errno, a __slots__ field...)
    for key, value in fields.items():
        object.__setattr__(error, key, value)
    if not located:                              # (else as pickled: its location in it already)
        message, filename, lineno = _located_message(message, filename, lineno)
        message = (where(filename, lineno) + ": " if filename else "") + message
    object.__setattr__(error, "_sct_message", message)
    object.__setattr__(error, "sct_location", (filename, lineno))
    # sct's .filename and .lineno, where the user's error has none of its own (OSError's filename, a
    # JSONDecodeError's lineno, a user's field so named are theirs, as in plain Python)
    for key, value in (("filename", filename), ("lineno", lineno)):
        if not hasattr(error, key) or key not in fields and getattr(error, key, None) is None and \
                key not in slots:
            setattr(error, key, value)
    return error


def evaluation_error_from(exc: BaseException, message: str, filename: Optional[str] = None,
                          lineno: Optional[int] = None) -> EvaluationError:
    """The EvaluationError for ``exc``, an error the user's code raised while it ran (its own ``raise``,
    an ``assert``, numpy's ValueError, a dict's KeyError), that is also an instance of ``exc``'s class: as
    in plain Python, ``except ValueError`` (or the user's ``except EarlyStop``, ``pytest.raises(KeyError)``)
    still catches it, with the args and attributes the user's exception carried (``e.epoch``,
    ``e.args[0]``, OSError's ``errno`` and ``filename``, a ``__slots__`` field); ``str()`` is sct's
    message, located at the user's line (``sct_location``; ``.filename`` and ``.lineno`` too where the
    user's error has no such field).  Was: an EvaluationError only, which such a handler let through.
    Where the two classes cannot be combined (a class whose layout or constructor forbids it), a plain
    EvaluationError."""
    cls = type(exc)
    also = _combined(cls)
    if also is not EvaluationError:
        try:
            return _filled(also, cls, message, filename, lineno, exc.args, dict(getattr(exc, "__dict__", {})),
                           _held_slots(exc, cls))
        except Exception:
            pass
    return EvaluationError(message, filename, lineno)
