"""A gradient with respect to one of several outputs of ``forward``/``predict`` (Grad-CAM).

MATLAB's Grad-CAM example asks one call for a feature map and the scores computed from it, then
differentiates a score with respect to the feature map::

    scores, featureMap = predict(net, X, Outputs=["softmax", "relu5"])
    dScoresdMap = dlgradient(np.sum(scores[:, k]), featureMap)

sct follows a call's derivative from its arguments to its results, not from one result to another
(``site_checks.check_sibling_results`` refuses that).  Here the call is written twice: the first as
the user wrote it, the second taking the feature map as given (``_given_output=1,
_given_value=featureMap``: the network runs again with that activation read from the argument,
``runtime/network.py run_network``) and binding the other outputs::

    scores, featureMap = predict(net, X, Outputs=["softmax", "relu5"])
    scores, given_unused = predict(net, X, Outputs=["softmax", "relu5"], _given_output=1, _given_value=featureMap)

The second call computes the same numbers from the same arguments, and ``scores`` now depends on
``featureMap`` through an argument, so the derivative is MATLAB's (and the gradient with respect to
``X`` is unchanged: the paths through the feature map and around it).  Only where the call's
arguments are names, constants and attributes of names (read twice, the same values) none of which
the statement binds; where one output is differentiated by and another is read; ``forward`` of a
network whose layers draw random numbers is refused when it runs (a second draw).
"""
from __future__ import annotations

from typing import Optional, Set

import gast

from .inline_helpers import _wrt_roots
from .ir import walk_nodes

_GIVEN = ("_given_output", "_given_value")


def _network_function(func, globals_: dict, local: Set[str]) -> Optional[str]:
    """"forward" or "predict" where ``func`` names sct's (a global name, or ``sct.predict``)."""
    from .runtime import network
    target = None
    if isinstance(func, gast.Name) and func.id not in local:
        target = globals_.get(func.id)
    elif isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name) and func.value.id not in local:
        module = globals_.get(func.value.id)
        target = getattr(module, func.attr, None) if getattr(module, "__name__", "") in ("sct", "sct.runtime.network") \
            else None
    if target is network.forward:
        return "forward"
    if target is network.predict:
        return "predict"
    return None


def _pure(node) -> bool:
    """A name, a constant, an attribute of one, or a list or tuple of them: read twice, the same value."""
    if isinstance(node, (gast.Name, gast.Constant)):
        return True
    if isinstance(node, gast.Attribute):
        return _pure(node.value)
    if isinstance(node, (gast.List, gast.Tuple)):
        return all(_pure(e) for e in node.elts)
    return False


def _names(node) -> Set[str]:
    return {n.id for n in walk_nodes(node) if isinstance(n, gast.Name)}


def given_outputs(fn, fdef: gast.FunctionDef, namer) -> None:
    """Rewrite ``fdef`` in place (see the module's docstring)."""
    if not any(isinstance(n, gast.keyword) and n.arg == "Outputs" for n in walk_nodes(fdef)):
        return
    roots = _wrt_roots(fdef)
    if not roots:
        return
    globals_ = getattr(fn, "__globals__", {})
    local = {a.id for a in fdef.args.args + fdef.args.kwonlyargs + fdef.args.posonlyargs} | \
        {n.id for n in walk_nodes(fdef) if isinstance(n, gast.Name) and isinstance(n.ctx, (gast.Store, gast.Del))}
    loaded = {}
    for n in walk_nodes(fdef):
        if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load):
            loaded[n.id] = loaded.get(n.id, 0) + 1

    def rewrite(body):
        out = []
        for stmt in body:
            for field in ("body", "orelse", "finalbody"):
                inner = getattr(stmt, field, None)
                if isinstance(inner, list) and not isinstance(stmt, (gast.FunctionDef, gast.ClassDef)):
                    setattr(stmt, field, rewrite(inner))
            out.append(stmt)
            second = _second_call(stmt)
            if second is not None:
                out.append(second)
        return out

    def _second_call(stmt):
        if not (isinstance(stmt, gast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.value, gast.Call)):
            return None
        call = stmt.value
        fname = _network_function(call.func, globals_, local)
        if fname is None or any(k.arg is None or k.arg in _GIVEN for k in call.keywords) or \
                any(isinstance(a, gast.Starred) for a in call.args):
            return None
        nargout = next((k.value for k in call.keywords if k.arg == "nargout"), None)
        if nargout is not None and not (isinstance(nargout, gast.Constant) and nargout.value in (1, 2)):
            return None
        pair = (nargout.value == 2) if nargout is not None else fname == "forward"     # (Y, state)
        target = stmt.targets[0]
        if pair:
            if not (isinstance(target, (gast.Tuple, gast.List)) and len(target.elts) == 2):
                return None
            outputs_target = target.elts[0]
        else:
            outputs_target = target
        if not (isinstance(outputs_target, (gast.Tuple, gast.List)) and len(outputs_target.elts) >= 2 and
                all(isinstance(e, gast.Name) for e in outputs_target.elts)):
            return None
        names = [e.id for e in outputs_target.elts]
        given = [k for k, name in enumerate(names) if name in roots]
        if len(given) != 1 or len(set(names)) != len(names):
            return None
        k = given[0]
        others = [name for j, name in enumerate(names) if j != k]
        if not any(loaded.get(name) for name in others):
            return None                     # (the other outputs are not read: nothing to follow)
        if not all(_pure(a) for a in call.args) or not all(_pure(kw.value) for kw in call.keywords):
            return None
        bound = _names(target)
        if any(_names(a) & bound for a in call.args) or any(_names(kw.value) & bound for kw in call.keywords):
            return None                     # (an argument the statement rebinds: read again, another value)

        def store(name):
            return gast.Name(id=name, ctx=gast.Store(), annotation=None, type_comment=None)

        unused = namer.fresh("given_unused")
        elts = [store(name) if j != k else store(unused) for j, name in enumerate(names)]
        new_outputs = type(outputs_target)(elts=elts, ctx=gast.Store())
        new_target = gast.Tuple(elts=[new_outputs, store(namer.fresh("given_state"))], ctx=gast.Store()) \
            if pair else new_outputs
        keywords = [gast.keyword(arg=kw.arg, value=_copy(kw.value)) for kw in call.keywords] + [
            gast.keyword(arg="_given_output", value=gast.Constant(value=k, kind=None)),
            gast.keyword(arg="_given_value", value=gast.Name(id=names[k], ctx=gast.Load(), annotation=None,
                                                             type_comment=None))]
        second = gast.Assign(targets=[new_target], type_comment=None,
                             value=gast.Call(func=_copy(call.func), args=[_copy(a) for a in call.args],
                                             keywords=keywords))
        gast.copy_location(second, stmt)
        for node in walk_nodes(second):
            gast.copy_location(node, stmt)
        return second

    fdef.body = rewrite(fdef.body)


def _copy(node):
    import copy
    return copy.deepcopy(node)
