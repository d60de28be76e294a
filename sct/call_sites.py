"""Call sites: each call that generated code makes to a function fixed when it was compiled
(``rt.vjp``, ``rt.vjp_method``, ``rt.vjp_init``, ``rt.primal_call``, ``rt.primal_method``) gets its own
site object in the generated globals, which keeps the generated code it used (see
``runtime.support.CallSite`` and ``sct.transform_calls.site_miss``).
"""
from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

import gast

from . import cache
from .ir import child_nodes, tree_changed, walk_nodes
from .runtime.support import CallSite

_LIVE: "weakref.WeakSet[CallSite]" = weakref.WeakSet()     # every site of live generated code


def forget_entries() -> None:
    """Empty every call site (``sct.cache.clear``: the helpers are compiled again on next use)."""
    for site in list(_LIVE):
        site.entries = ()
        site.misses = 0


cache.ON_CLEAR.append(forget_entries)

_SITE_CALLS = {"vjp": "vjp_at", "vjp_method": "vjp_method_at", "vjp_init": "vjp_init_at",
               "primal_call": "primal_call_at", "primal_method": "primal_method_at"}


def attach_sites(functions, rt_name: str, namer, found: Optional[List] = None) -> Dict[str, Any]:
    """Give each ``rt.vjp``-like call in ``functions`` (generated ASTs) its site object; returns
    the globals to add (name -> site).  ``found``: a list that receives a :class:`SiteCall` per
    site (what sct.call_tree resolves when the caller is compiled)."""
    sites: Dict[str, Any] = {}
    for fdef in functions:
        lines = None                  # read from the function's line comments when it has a site
        for node in walk_nodes(fdef):
            if not (isinstance(node, gast.Call) and isinstance(node.func, gast.Attribute) and
                    isinstance(node.func.value, gast.Name) and node.func.value.id == rt_name and
                    node.func.attr in _SITE_CALLS and node.args and
                    not getattr(node, "_sct_site", False)):
                continue
            method = node.func.attr in ("vjp_method", "primal_method")
            target = node.args[1] if method and len(node.args) > 1 else node.args[0]
            if isinstance(target, gast.Call) and isinstance(target.func, gast.Attribute) and \
                    target.func.attr in ("positional", "keywords_method") and target.args:
                # rt.positional(f): named after f; rt.keywords_method(obj, name, ...): after name, else obj
                name_arg = target.args[1] if len(target.args) > 1 else None
                target = name_arg if isinstance(name_arg, gast.Constant) and isinstance(name_arg.value, str) \
                    else target.args[0]
            if isinstance(target, gast.Constant) and isinstance(target.value, str):
                label = target.value.strip("_")
            elif isinstance(target, gast.Name):
                label = target.id
            elif isinstance(target, gast.Attribute):
                label = target.attr
            else:
                label = "call"
            label = (label if label.isidentifier() else "call")[:40]
            name = namer.fresh(label + "_site")
            sites[name] = site = CallSite(label)
            _LIVE.add(site)
            if found is not None:
                if lines is None:
                    lines = _site_lines(fdef, rt_name)
                found.append(SiteCall(name, site, node.func.attr, node, fdef, lines.get(id(node)), label))
            node.func.attr = _SITE_CALLS[node.func.attr]
            node.args.insert(0, gast.Name(id=name, ctx=gast.Load(), annotation=None, type_comment=None))
            node._sct_site = True
            tree_changed(fdef)          # (a node added: sct.ir.shared_walks walks it again)
    return sites


@dataclass(frozen=True)
class SiteCall:
    """One call site of generated code: ``op`` is what it was before it got its site
    (``vjp``, ``vjp_method``, ``vjp_init``, ``primal_call``, ``primal_method``); ``node`` the call
    (its site name first), in the generated function ``fdef``; ``line`` the user's line."""
    name: str
    site: Any
    op: str
    node: Any
    fdef: Any
    line: Optional[int]
    label: str


def _site_lines(fdef, rt_name: str) -> Dict[int, int]:
    """id(call) -> the user's line of the code it is in (read from the line comments before it)."""
    from .emit import COMMENT, LINE
    marker = COMMENT + LINE
    lines: Dict[int, int] = {}
    line = getattr(fdef, "lineno", None)
    todo = [fdef]
    while todo:
        node = todo.pop()
        if isinstance(node, gast.Expr) and isinstance(node.value, gast.Constant) and \
                isinstance(node.value.value, str) and node.value.value.startswith(marker):
            text = node.value.value[len(marker):]
            number = text.split(LINE, 1)[0]
            if number.isdigit():
                line = int(number)
        elif isinstance(node, gast.Call) and isinstance(node.func, gast.Attribute) and \
                node.func.attr in _SITE_CALLS and isinstance(node.func.value, gast.Name) and \
                node.func.value.id == rt_name:
            lines[id(node)] = line
        todo.extend(reversed(child_nodes(node)))   # (the context and operator leaves match nothing)
    return lines
