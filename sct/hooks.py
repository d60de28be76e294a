"""What the layers above the compiler lend it, installed once when they are imported.

The import graph has no circle (tests/test_import_layers.py).  From the bottom:

1. the runtime, ``sct.runtime`` (``runtime/``): it imports nothing of ``sct``;
2. the compiler's data: errors, kinds, plans, ir, naming, emit, ``rt_namespace``, this module;
3. the passes (parse, normalize, aliasing, analysis, reverse, tangent, ...), then ``compiler``;
4. on top: ``transform_calls`` (helpers compiled at run time), ``call_tree`` (helpers compiled with
   their caller), ``api``, ``accelerate``,
   ``forward``, and ``sct/__init__``.

A module never imports one above it, not even inside a function.  Where a pass must recognise
an object that an upper layer defines (the user's code calls ``dlgradient``; a helper called
from differentiated code is ``jvp`` itself), the upper module lends it here when it is
imported.  ``import sct`` imports every lender before anything is compiled, and no user code
can hold such an object before its module is imported.  An accelerated function is recognised
by its base class, ``callables.WrappedFunction``.  Generated code reaches the compiler at run
time the same way: ``sct.transform_calls`` installs ``sct.runtime.support.HOOKS``.

``API`` (lent by ``sct.api``): ``dlfeval``, ``dlgradient``, ``dljacobian``, ``dldivergence``,
``dllaplacian`` and ``SITE_FUNCTIONS`` (the four that mark a differentiation site).

``CALL_TREE`` (lent by ``sct.call_tree``): ``resolve``, which ``compiler`` calls before emitting a
function with helper call sites, to compile the callees it can resolve then and call them by name,
and ``finish``, after loading it (``sct/call_tree.py``).

``FORWARD_ENTRIES`` (lent by ``sct.forward``): ``{id(jvp): "jvp", id(hvp): "hvp",
id(jvp_source): "jvp_source"}``, the forward-mode entry points differentiated code may not call.
"""
from __future__ import annotations

import types
from typing import Any, Dict

API = types.SimpleNamespace()
FORWARD_ENTRIES: Dict[int, str] = {}
CALL_TREE = types.SimpleNamespace(resolve=None, finish=None, helper_tree=None, outside_value=None, missing=None,
                                  returns_holding=None)

_API_NAMES = ("dlfeval", "dlgradient", "dljacobian", "dldivergence", "dllaplacian", "SITE_FUNCTIONS")


def lend_api(**functions: Any) -> None:
    """``sct.api`` lends its functions (every name of ``_API_NAMES``, no other)."""
    assert sorted(functions) == sorted(_API_NAMES), sorted(functions)
    vars(API).update(functions)


def lend_forward_entries(**functions: Any) -> None:
    """``sct.forward`` lends its entry points, by name."""
    FORWARD_ENTRIES.update({id(fn): name for name, fn in functions.items()})


def lend_call_tree(resolve: Any, finish: Any, **readers: Any) -> None:
    """``sct.call_tree`` lends ``resolve_call_tree`` (before the generated code is emitted: the
    calls it resolves are called by name) and ``finish_call_tree`` (after it is loaded), and its
    readers of helpers' code that sct/plain_leaves.py uses (``helper_tree``, ``outside_value``,
    ``missing``, ``returns_holding``)."""
    assert sorted(readers) == ["helper_tree", "missing", "outside_value", "returns_holding"], sorted(readers)
    CALL_TREE.resolve = resolve
    CALL_TREE.finish = finish
    vars(CALL_TREE).update(readers)
