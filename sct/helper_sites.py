"""A dlgradient inside a helper whose ``y`` reaches none of its ``x``s there.

A helper called from differentiated code (its pair, or its entry code run for the caller) is
compiled on its own: its ``dlgradient(y, x)`` differentiates the helper's statements, its other
parameters held constant.  MATLAB's trace spans the whole dlfeval call: where ``y`` was computed
by the caller from ``x`` (``def grad_of(y, x): return dlgradient(y, x)`` called as
``grad_of(np.sum(x ** 2), x)``) MATLAB gives the derivative through the caller's code, and the
helper's own code gives zero.  Refused here where every ``x`` is a parameter of the helper and
``y`` depends, inside the helper, on none of them (the gradient sct would return is zero
whatever the caller did): take the gradient in the function dlfeval runs, or compute ``y`` in
the helper from its ``x``.

A ``y`` that reaches ``x`` in the helper and also another traced parameter: the sites are returned
(``Compiled.joint_sites``), and a caller whose call is resolved when it is compiled (sct/call_tree.py)
is refused where it passes there a value it computed from the argument given as ``x``
(``h(x, x ** 2)``: the helper holds it constant); for a call whose callee is known at run time
only, its site keeps the links of its arguments for the check when the callee is compiled
(sct/transform_calls.py).  The links are read by name over the caller's generated code, every
statement at once: more than the values carry, never less.
"""
from __future__ import annotations

import inspect
import types
from typing import List

import gast

from . import hooks
from .analysis import Dependence
from .errors import CompileError
from .ir import root_name, walk_nodes
from .plans import CallKind


def _parameter_copies(fdef, params, activity=None) -> dict:
    """{r: p} for each name r bound once in the function, by a statement ``r = p`` at its top (p a
    parameter, or a copy of one: ``x0 = x`` before ``x`` is bound again; ``v = x`` after a loop
    binding x, which may run no time): a dlgradient with respect to r is read, for the checks
    below, as one with respect to the parameter p (sct/sites.py's Site.entry and final_source
    differentiate r as p's value; the helper's own code holds its other parameters constant, as
    for p itself)."""
    stores: dict = {}
    for node in walk_nodes(fdef):
        if isinstance(node, gast.Name) and not isinstance(node.ctx, gast.Load):
            stores[node.id] = stores.get(node.id, 0) + 1
    copies: dict = {}
    for st in fdef.body:
        if isinstance(st, gast.Assign) and len(st.targets) == 1 and isinstance(st.targets[0], gast.Name) and \
                isinstance(st.value, gast.Name) and stores.get(st.targets[0].id) == 1:
            source = copies.get(st.value.id, st.value.id)
            if source in params:
                copies[st.targets[0].id] = source
    # a name bound once to a list, tuple or dict display of parameters (or their items): ``d = {"a": a,
    # "b": b}`` for ``dlgradient(y, d["a"])`` (``gd({"a": a, "b": b})`` inlined) is read as one with
    # respect to those parameters, among themselves (was: a local, not checked, so a caller passing
    # w and w * 3 got the partial derivative)
    for node in walk_nodes(fdef):
        if isinstance(node, gast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], gast.Name) and \
                isinstance(node.value, (gast.List, gast.Tuple, gast.Dict)) and stores.get(node.targets[0].id) == 1 \
                and node.targets[0].id not in copies:
            found = set()
            for e in (node.value.values if isinstance(node.value, gast.Dict) else node.value.elts):
                root = root_name(e) if isinstance(e, (gast.Name, gast.Subscript, gast.Attribute)) else None
                source = copies.get(root, root)
                found.update(source if isinstance(source, tuple) else (source,))
            found &= set(params)
            if found:
                copies[node.targets[0].id] = tuple(sorted(found))
    # a name bound once, anywhere, to an item or attribute of a parameter (or of a copy of one): the
    # normalizer's ``p_item = p["w"]`` for ``dlgradient(loss, p["w"])`` (was: not a parameter, so the
    # site was not checked, and a caller passing {"w": x} and x * 2 got a partial derivative)
    for node in walk_nodes(fdef):
        if isinstance(node, gast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], gast.Name) and \
                isinstance(node.value, (gast.Subscript, gast.Attribute)) and stores.get(node.targets[0].id) == 1:
            root = root_name(node.value)
            source = copies.get(root, root)
            if isinstance(source, tuple) or source in params:      # (a tuple: a display's, above)
                copies[node.targets[0].id] = source
    if activity is not None:
        # a name bound once to the value of a call of the user's code that reads parameters (a method of
        # one, ``z = o.first()``; a function given one): that value may be an item a parameter holds, so
        # a dlgradient with respect to it is read as one with respect to those parameters (was: a local,
        # not checked, so a caller passing o holding x and x * 2 got the partial derivative)
        for node in walk_nodes(fdef):
            if isinstance(node, gast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], gast.Name) and \
                    isinstance(node.value, gast.Call) and stores.get(node.targets[0].id) == 1 and \
                    node.targets[0].id not in copies and may_hold_arguments(node.value, activity):
                call = node.value
                reads = list(call.args) + [k.value for k in call.keywords]
                if isinstance(call.func, gast.Attribute):
                    reads.append(call.func.value)
                found = set()
                for value in reads:
                    root = root_name(value)
                    source = copies.get(root, root)
                    found.update(source if isinstance(source, tuple) else (source,))
                found &= params
                if found:
                    copies[node.targets[0].id] = tuple(sorted(found))
    return copies


def may_hold_arguments(call, activity) -> bool:
    """A call of the user's function, class or callable object, or a method of a value that is not an
    array or number: its value may be an item of what it is given."""
    try:
        kind = activity.call_info(call).kind
    except Exception:       # noqa: BLE001  (a call the analysis did not classify)
        return False
    if kind == CallKind.FUNCTION:
        return _returns_given(call, activity.call_info(call).obj)
    if kind == CallKind.METHOD and isinstance(call.func, gast.Attribute):
        root = root_name(call.func.value)
        known = activity.kinds.get(root) if root is not None else None
        return not (isinstance(known, tuple) and known and known[0] in ("dl", "nd", "num"))
    return False


def _returns_given(call, fn) -> bool:
    """May the value of ``call`` of ``fn`` hold an argument given it?  False only where ``fn`` is a plain
    function whose own source shows it returns none of the arguments given here (``call_tree.returns_holding``;
    ``def f(w, b): return np.tanh(w * 1.5 + b)``: a new array; was: every call of the user's read as holding
    what it is given, so ``p["w"] = f(p["w"], p["b"])`` made p a dict filled from ``p["w"]`` and dlgradient(y, p)
    was refused)."""
    if type(fn) is not types.FunctionType or any(isinstance(a, gast.Starred) for a in call.args) or \
            any(k.arg is None for k in call.keywords):
        return True
    try:
        held = hooks.CALL_TREE.returns_holding(fn)
        names = list(inspect.signature(fn).parameters)
    except Exception:       # noqa: BLE001  (not told: it may hold them)
        return True
    if held is None:
        return True
    given = [n for n, _ in zip(names, call.args)] + [k.arg for k in call.keywords]
    return any(n in held for n in given)


def check_helper_sites(fdef, activity, params: List[str], filename: str, vararg=None, nvararg: int = 0) -> tuple:
    """Refuse a dlgradient (or dljacobian ...) of a helper whose ``y`` depends on none of its
    ``x``s, each ``x`` a parameter of the helper (see the module's doc).  Returns the sites the
    caller must check (``Compiled.joint_sites``): ``(line, x positions, positions of the other
    traced parameters y depends on)``, each ``x`` a parameter; a caller passing, at one of the
    latter, a value it computed from the argument at an ``x`` is refused (sct/call_tree.py).
    ``vararg``: the name of its ``*args`` parameter, which takes the ``nvararg`` positions after
    ``params`` (an ``x`` that is its item ``args[k]`` the position of that item); was left out, so
    ``def g(w, *rest): return dlgradient(np.sum(w * rest[0]), w)`` called ``g(w, np.sum(w))`` gave
    the partial derivative."""
    order = list(params)
    if vararg is not None and nvararg and vararg not in order:
        spread = list(range(len(order), len(order) + nvararg))
        item_of = _vararg_items(fdef, vararg)
    else:
        vararg, spread, item_of = None, [], {}

    def positions(name) -> list:
        if name == vararg:
            return spread
        return [order.index(name)] if name in order else []
    joint = []
    sites = []
    for node in walk_nodes(fdef):
        if isinstance(node, gast.Assign) and isinstance(node.value, gast.Call) and \
                activity.call_info(node.value).kind == CallKind.SITE:
            sites.append(node)
    if not sites:
        return ()
    params = set(params) | ({vararg} if vararg is not None else set())
    copies = _parameter_copies(fdef, params, activity)
    for stmt in sites:
        call = stmt.value
        args = [a for a in call.args if not isinstance(a, gast.Starred)]
        if len(args) < 2 or not isinstance(args[0], gast.Name):
            continue
        y = args[0].id
        xs = args[1:] if getattr(activity.call_info(call).obj, "__name__", "") == "dlgradient" else args[1:2]
        roots = [copies.get(r, r) for r in (root_name(x) for x in xs)]
        roots = [q for r in roots for q in (r if isinstance(r, tuple) else (r,))]
        if y not in activity.active or any(r is None or r not in params or r not in activity.active
                                           for r in roots):
            continue
        if y in roots or y in Dependence(fdef, activity, set(roots)).active:
            # the x positions: an item ``args[k]`` of the *args parameter is its own position, the
            # other items then count among the parameters y may also read
            mine = set()
            for x, r in zip(xs, [root_name(x) for x in xs]):
                k = item_of.get(r) if isinstance(x, gast.Name) else _constant_item(x, vararg)
                mine.update([len(order) + k] if k is not None and 0 <= k < nvararg else
                            positions(copies.get(r, r)) if isinstance(copies.get(r, r), str) else
                            [i for q in copies.get(r, r) for i in positions(q)])
            others = tuple(i for p in order + ([vararg] if vararg is not None else [])
                           if p in activity.active and (p not in roots or p == vararg) and
                           (p == y or y in Dependence(fdef, activity, {p}).active)
                           for i in positions(p) if i not in mine)
            if others and mine:
                joint.append((getattr(stmt, "lineno", fdef.lineno), tuple(sorted(mine)), others))
            structure = any(isinstance(activity.kinds.get(r), tuple) and activity.kinds.get(r)[:1] in
                            (("seq",), ("map",), ("obj",)) for r in roots if isinstance(r, str))
            if len(mine) > 1 or structure:
                # several x's (``dlgradient(y, a, b)``): a caller passing for b a value it computed from
                # the one it passes for a gets, for a, the partial derivative (b held constant), where
                # the function's own code (and MATLAB's trace) gives the whole one through b (was: not
                # checked, g(w, w * 3) in a loop gave 6w for a where sct's own inline code gives 12w)
                joint.append((getattr(stmt, "lineno", fdef.lineno), tuple(sorted(mine)), tuple(sorted(mine))))
            continue
        name, xs_text = fdef.name, ", ".join(repr(r) for r in roots)
        if name.startswith(("out_lambda", "lambda_")):         # sct's name of a lambda
            name = "lambda"
        what = f"y is not computed in {name}() (it is an argument or a value it captures)" if y in params else \
            f"y does not depend on {xs_text} inside {name}()"
        raise CompileError(
            f"dlgradient in the helper {name}() (x: its parameter {xs_text}): {what}; sct differentiates a helper's own code (its "
            "parameters held constant), so a y the caller computed from x would give a zero gradient "
            "here, where MATLAB's trace differentiates through the caller. Take the gradient in the "
            "function dlfeval runs, or compute y inside the helper from its x",
            filename, getattr(stmt, "lineno", fdef.lineno), "dlgradient")
    return tuple(joint)


def _constant_item(node, vararg) -> "int | None":
    """``k`` of ``args[k]`` (a literal int) where ``args`` is the *args parameter ``vararg``."""
    if isinstance(node, gast.Subscript) and isinstance(node.value, gast.Name) and node.value.id == vararg and \
            isinstance(node.slice, gast.Constant) and type(node.slice.value) is int:
        return node.slice.value
    return None


def _vararg_items(fdef, vararg) -> dict:
    """{name: k} for each name bound once to ``args[k]`` of the *args parameter (the normalizer's
    ``args_item = args[0]`` for ``dlgradient(y, args[0])``)."""
    stores: dict = {}
    for node in walk_nodes(fdef):
        if isinstance(node, gast.Name) and not isinstance(node.ctx, gast.Load):
            stores[node.id] = stores.get(node.id, 0) + 1
    out = {}
    for node in walk_nodes(fdef):
        if isinstance(node, gast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], gast.Name) and \
                stores.get(node.targets[0].id) == 1:
            k = _constant_item(node.value, vararg)
            if k is not None:
                out[node.targets[0].id] = k
    return out


def joint_sites_through(joint_sites, deps, name: str) -> list:
    """A callee's joint sites read as sites of its caller's parameters: ``deps[k]``, the caller's
    parameters (positions) argument k of the call reads; a site whose ``x``s and other parameters
    reach different ones of them, ``(where, x positions, other positions)`` of the caller."""
    out = []
    for line, xs, others in joint_sites:
        if xs == others:
            # x's among themselves (several, or a structure's items): the caller's parameters they
            # come from, among themselves (was: not forwarded, so a helper passing its parameters on
            # to such a helper, fw(w, w * 3) in a loop, gave the partial derivative)
            mine = set().union(*(deps[j] for j in xs if j < len(deps)))
            if mine:
                where = line if isinstance(line, str) else f"in {name}(), line {line}"
                out.append((where, tuple(sorted(mine)), tuple(sorted(mine))))
            continue
        mine = set().union(*(deps[j] for j in xs if j < len(deps)))
        theirs = set().union(*(deps[i] for i in others if i < len(deps))) - mine
        if mine and theirs:
            where = line if isinstance(line, str) else f"in {name}(), line {line}"
            out.append((where, tuple(sorted(mine)), tuple(sorted(theirs))))
    return out


def refuse_linked(compiled, links, fn, filename, line, linking=lambda i, paths: True, unpacked=False) -> None:
    """_refuse_joint's check and error, given the call's links (sct/call_tree.py; also for a call
    whose callee is known at run time only: its site keeps the links, sct/transform_calls.py).
    ``linking(i, paths)``: may argument i be a list, tuple, dict or object with a traced item at one
    of ``paths`` (None: any), where a link ``("result", i, paths)`` (a value a helper returned,
    sct/fresh_returns.py) or ``("held", i)`` (what it holds, computed from one another) counts as
    items computed from one another?"""
    results = {k[1] for k in links if k[0] == "result" and linking(k[1], k[2])}
    held = {k[1] for k in links if k[0] == "held" and linking(k[1], None)}
    links = frozenset(links) | {(i, i) for i in results | held}
    def linked(j, i, among_xs) -> bool:
        if not among_xs:
            return j != i and (j, i) in links
        # x's among themselves: i computed from j, not also j from i (loop-carried state, W and z both
        # rebound from one step's results, is read as computed from each other by sct's by-name reading:
        # neither was computed from the other at the call), or the same value passed twice, or (i == j)
        # a display holding an item computed from another
        # (``("direct", j, i)``: i computed from j just before the call, sct/call_tree.py; was: read
        # as loop-carried state where j was rebound from i later in the loop, the partial derivative)
        return (j, i) in links and (j == i or (i, j) not in links or ("same", j, i) in links or
                                    ("direct", j, i) in links)
    for site_line, xs, others in getattr(compiled, "joint_sites", ()):
        for i in others:
            if any(linked(j, i, xs == others) for j in xs):
                code = getattr(fn, "__code__", None)
                params = code.co_varnames[:code.co_argcount] if code is not None else ()
                star = code.co_varnames[code.co_argcount + code.co_kwonlyargcount] \
                    if code is not None and code.co_flags & 0x04 else None        # (CO_VARARGS: *args)
                what = lambda k: repr(params[k]) if k < len(params) else (                    # noqa: E731
                    f"*{star} (its item {star}[{k - len(params)}])" if star else f"argument {k + 1}")
                name = getattr(fn, "__name__", "the helper")
                generated = str(getattr(code, "co_filename", "")).startswith("<sct-generated")
                at = f" ({site_line})" if isinstance(site_line, str) else \
                    "" if generated else f" (line {site_line})"      # (a nested function: sct's lines)
                if unpacked:
                    # (every pair read as linked, sct/call_tree.py ALL_PAIRS: was said as "computed from",
                    # which the call need not do)
                    error = CompileError(
                        f"{name}() takes dlgradient{at} with respect to its parameter "
                        f"{', '.join(what(j) for j in xs)}" +
                        ("" if xs == others else f" of a y that also depends on {what(i)}") + ", and this call "
                        f"passes its arguments unpacked with * from a value sct does not follow item by item here "
                        f"(a list or tuple, or the *args of a function called from differentiated code), so it "
                        f"cannot tell that none of them is computed from another, where sct's gradient (the "
                        f"helper's own code, the others held constant) would miss the path between them. Pass the "
                        f"arguments by name, or take the gradient in the function dlfeval runs",
                        filename, line, "dlgradient")
                    error.at_call = True
                    raise error
                if i in xs and (i, i) in links and i in results:
                    error = CompileError(
                        f"{name}() takes dlgradient{at} with respect to its parameter {what(i)}, and this call "
                        f"passes for it a list, tuple, dict or object that a function (or class) of the user's "
                        f"returned: its items may be computed from one another (or from a value it was given) "
                        f"there, or be values computed from one another here, and sct "
                        f"differentiates the helper's own code, where each is a value of its own, so the gradient "
                        f"could miss the paths between them that MATLAB's trace (and the same code in the "
                        f"function dlfeval runs) follows. Take the gradient in the function dlfeval runs, or "
                        f"build the structure in the helper", filename, line, "dlgradient")
                    error.at_call = True
                    raise error
                shadowed = next((k[2] for k in links if k[0] == "nested" and k[1] == i), None)
                if i in xs and (i, i) in links and shadowed is not None:
                    # (was: "holding a value computed from another value it holds", untrue for a step helper
                    # nested in the function, ``p, vel, L = step(p, vel)`` in a loop; red team 51 FR8)
                    names = ", ".join(repr(n) for n in shadowed)
                    error = CompileError(
                        f"{name}() takes dlgradient{at} with respect to its parameter {what(i)}, and sct cannot "
                        f"tell that no item of the value this call passes for it is computed from another: it "
                        f"reads what that value holds by the names of the function, and a def nested in it binds "
                        f"{names} too (its own names, which sct takes for the function's here). Define the "
                        f"helper at module level (sct then reads what it returns from its own code: "
                        f"`p, vel, L = step(p, vel, x)` in a loop runs), or take the gradient in the function "
                        f"dlfeval runs", filename, line, "dlgradient")
                    error.at_call = True
                    raise error
                if i in xs and (i, i) in links:
                    error = CompileError(
                        f"{name}() takes dlgradient{at} with respect to its parameter {what(i)}, and this call "
                        f"passes for it a list, tuple or dict holding a value computed from another value it "
                        f"holds: sct differentiates the helper's own code, where each is a value of its own, so "
                        f"the gradient for the first would miss the path through the second that MATLAB's trace "
                        f"(and the same code in the function dlfeval runs) follows. Take the gradient in the "
                        "function dlfeval runs, or compute that value inside the helper", filename, line,
                        "dlgradient")
                    error.at_call = True
                    raise error
                if i in xs:
                    j = next(j for j in xs if linked(j, i, True))
                    error = CompileError(
                        f"{name}() takes dlgradient{at} with respect to its parameters "
                        f"{', '.join(what(k) for k in xs)}, and this call passes for {what(i)} a value computed "
                        f"from the one it passes for {what(j)}: sct differentiates the helper's own code, where "
                        f"{what(i)} is a value of its own, so the gradient for {what(j)} would miss the path "
                        f"through {what(i)} that MATLAB's trace (and the same code in the function dlfeval runs) "
                        "follows. Take the gradient in the function dlfeval runs, or compute that value inside "
                        "the helper", filename, line, "dlgradient")
                    error.at_call = True
                    raise error
                error = CompileError(
                    f"{name}() takes dlgradient{at} with respect to its parameter "
                    f"{', '.join(what(j) for j in xs)} of a y that also depends on its parameter {what(i)}, "
                    f"and this call passes for {what(i)} a value computed from the one it passes for "
                    f"{', '.join(what(j) for j in xs)}: sct differentiates the helper's own code, holding "
                    f"{what(i)} constant, where MATLAB's trace also differentiates through this call. Take "
                    "the gradient in the function dlfeval runs, or compute that value inside the helper",
                    filename, line, "dlgradient")
                error.at_call = True
                raise error
