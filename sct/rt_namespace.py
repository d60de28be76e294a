"""``rt``: the namespace through which generated code reaches the runtime (``RT``), and the name
of each runtime function in it (``RT_NAMES``, by id).  Built once from the runtime alone, so every
pass can read it; ``sct.compiler`` puts it in each generated module's globals.
"""
from __future__ import annotations

import builtins
import types
from typing import Dict, Tuple

import numpy as np

from .runtime import dlfun, dlupdate_checks, effects, formats, fused, labels, layers, more_ops, nn, numpy_ops, \
    scalar_ops, support


def _runtime_namespace() -> Tuple[types.SimpleNamespace, Dict[int, str]]:
    """``rt`` in generated code: every public function of the runtime, by name."""
    ns = types.SimpleNamespace()
    ids: Dict[int, str] = {}
    for module in (support, numpy_ops, more_ops, nn, layers, dlfun, effects, formats, labels, fused, scalar_ops,
                   dlupdate_checks):
        for name, value in vars(module).items():
            if callable(value) and not name.startswith("__") and \
                    getattr(value, "__module__", "") == module.__name__:
                public = name.lstrip("_") if not hasattr(ns, name.lstrip("_")) else name
                if not hasattr(ns, public):
                    setattr(ns, public, value)
                    ids[id(value)] = public
    ns.ZERO = support.ZERO                  # the zero adjoint marker, compared by identity
    ns.PARTIAL_UNSET = support.PARTIAL_UNSET    # a partial's keyword the call left out (sct/partials.py)
    ns.TIED_UNREAD = support.TIED_UNREAD    # the adjoint of a parameter not differentiated by (sweeps._tied_roots)
    ns.INDEX = support.INDEX                # np.s_: an index of `x.flat[...] = v` as a value (sct/normalize.py)
    for name, value in scalar_ops.EXPORTS.items():     # math functions, called directly (sct/scalars.py)
        setattr(ns, name, value)
    # Python's own list/dict/isinstance, whatever the user's code names so (sct/normalize_loops.py
    # _items_by_key: a module's `list = sorted` walked the keys sorted)
    ns.builtin_list, ns.builtin_dict, ns.builtin_isinstance = builtins.list, builtins.dict, builtins.isinstance
    ns.builtin_float = builtins.float      # an int compared with a specialised float (sct/scalars.py)
    ns.builtin_type = builtins.type        # a list that is no subclass (sct/normalize_loops.py _rows_by_position)
    ns.format_transpose = np.transpose      # what sct.formats lowers formatted calls into
    ns.format_reshape = np.reshape
    ns.format_expand = np.expand_dims      # stripdims(x, fmt) with labels x lacks
    return ns, ids


RT, RT_NAMES = _runtime_namespace()
