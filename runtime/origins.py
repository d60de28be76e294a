"""Where a class or function comes from: Python's own builtins, numpy, sct (its compiler or runtime) or the
user's code, decided by identity where the name of its ``__module__`` alone misleads.

A class defined by code run with ``exec(src, {...})`` in globals without ``"__name__"`` has ``__module__``
``"builtins"``; a user's module or package may be named ``runtime`` (sct's runtime installs as
``sct.runtime``; a checkout's ``runtime/`` folder is only its own if its file is); ``numpy_models`` or
``runtime_cfg`` start with a library's name.  Was: each taken for Python's, sct's or numpy's by its name,
so a user's operator methods were differentiated as numpy's ``*`` (red52 W1), a global holder of the
user's model from ``runtime.py`` not followed (W2).  Where a class's origin cannot be established (named
"builtins" but not one of Python's own types) it is the user's: checked or refused, never taken for a
library's.
"""
from __future__ import annotations

import builtins
import functools
import os
import sys
import types
import warnings

_HEAP_TYPE = 1 << 9                         # Py_TPFLAGS_HEAPTYPE: made by a class statement or type()
_RUNTIME_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_NAMED: dict = {}                           # numpy's or sct's class -> the module name it was found under
_OWN: dict = {}                             # module name -> (the module object, whether it is sct's runtime)


def module_top(obj) -> str:
    """The top-level name of the package defining ``obj`` (a class or a function) as sct's "whose is it"
    tests read it (``module_top(cls) in ("numpy", "sct", "builtins")``); "" (the user's) for a class
    named "builtins" that is not one of Python's own types, a Python function named "builtins", and a
    module named ``runtime`` (or ``runtime.x``) that is not sct's runtime folder."""
    module = getattr(obj, "__module__", None)
    if not isinstance(module, str):
        return ""
    top = name_top(module)
    if top == "builtins":
        return top if python_own(obj) else ""
    if top in ("numpy", "sct") and isinstance(obj, type) and obj.__flags__ & _HEAP_TYPE and not _named_by(obj, module):
        return ""       # (a user's class renamed numpy's or sct's: was differentiated as numpy's, redfix52 F13)
    return top


def _named_by(cls, module: str) -> bool:
    """Whether the class ``cls`` is what its module (imported, or reached from its package's top: numpy's
    lazy ``numpy.rec``) holds under its ``__qualname__``."""
    if _NAMED.get(cls) == module:
        return True
    for obj, path in ((sys.modules.get(module), []), (sys.modules.get(module.partition(".")[0]), module.split(".")[1:])):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")         # (numpy.core's DeprecationWarning)
            for part in path + cls.__qualname__.split("."):
                obj = getattr(obj, part, None)
        if obj is cls:
            if len(_NAMED) < 4096:
                _NAMED[cls] = module
            return True
    return False


def name_top(module: str) -> str:
    """The top-level name of the module named ``module`` ("" for a module named ``runtime`` or ``runtime.x``
    that is not sct's runtime folder: the user's)."""
    top = module.partition(".")[0]
    return "" if top == "runtime" and not _sct_runtime(module) else top


def python_own(obj) -> bool:
    """Whether ``obj`` (its ``__module__`` "builtins") is Python's own: a type written in C (not one a
    class statement made: those of code exec'd without ``__name__`` are named "builtins" too) or a builtin
    function, not a Python function."""
    if isinstance(obj, (types.FunctionType, types.MethodType)):
        return False
    cls = obj if isinstance(obj, type) else type(obj)
    return not cls.__flags__ & _HEAP_TYPE or vars(builtins).get(cls.__name__) is cls     # (ExceptionGroup)


def in_package(module, *tops: str) -> bool:
    """Whether the module name ``module`` is one of ``tops`` or inside one (whole dotted components:
    ``numpy.linalg`` is numpy's, ``numpy_models`` is not)."""
    return isinstance(module, str) and any(module == t or module.startswith(t + ".") for t in tops)


def _sct_runtime(name: str) -> bool:
    m = sys.modules.get(name)
    held = _OWN.get(name)
    if held is None or held[0] is not m:
        file = getattr(m, "__file__", None)
        held = _OWN[name] = (m, isinstance(file, str) and os.path.abspath(file).startswith(_RUNTIME_DIR))
    return held[1]


def module_name(obj):
    """``obj.__module__`` (None where it has none) as sct's name tests of a whole module name read it: ""
    (the user's) where :func:`module_top` finds the name misleading (a class of exec'd code named
    "builtins", a user's module named ``runtime``) and for a Python function without one."""
    module = getattr(obj, "__module__", None)
    if module is None and isinstance(obj, types.FunctionType):
        return ""           # (a function of code exec'd in globals without __name__: the user's)
    if not isinstance(module, str) or module_top(obj) or not module:
        return module
    return ""


def call_name(fn, default: str = "this call") -> str:
    """The name a message gives a function it calls: its qualified name (a method's function's, a
    functools.partial's function's), else ``default``."""
    named = getattr(fn, "__func__", fn)
    if isinstance(named, functools.partial):
        named = named.func
    return getattr(named, "__qualname__", None) or getattr(named, "__name__", None) or default


def library_code(obj) -> bool:
    """A class or function of Python's (its standard library's too: a namedtuple's __repr__, Enum's,
    types.SimpleNamespace), numpy's or sct's: not the user's."""
    top = module_top(obj)
    return top in ("builtins", "numpy", "sct", "sct_generated") or top in sys.stdlib_module_names
