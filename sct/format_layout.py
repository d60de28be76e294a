"""Data formats at compile time, the functions that read a layout (``dlconv``, the poolings and
normalisations, ``fullyconnect``, ``softmax``, the losses; ``lstm``, ``gru``) on formatted data or
with ``DataFormat=``: ``LayoutCalls`` plans the call (``sct.runtime.formats.plan``/``recurrent_plan``),
and the functions below write the statements it is lowered into: its inputs arranged into sct's
default layout (``rt.format_transpose``/``rt.format_reshape``), the same call in that layout, and its
results arranged back into MATLAB's layout.
"""
from __future__ import annotations

from typing import List

import gast

from .format_inference import FormatInference, _Lost, _Unknown, has_format
from .runtime.labels import lost_message
from .ir import assign, call, const, load
from .kinds import kind_of
from .runtime import dlfun, nn
from .runtime import formats as rf


LAYOUT_OPS = {id(getattr(dlfun, n, None) or getattr(nn, n)): n for n in rf.LAYOUT_FUNCTIONS}
RECURRENT_OPS = {id(getattr(nn, n)): n for n in rf.RECURRENT_FUNCTIONS}


def perm_tuple(perm):
    return gast.Tuple(elts=[const(i) for i in perm], ctx=gast.Load())


class Emitter:
    """The statements that replace ``result = f(...)``: each value assigned to a fresh name made from
    ``result``, on the call's line."""
    def __init__(self, namer, rt_name: str, stmt):
        self.namer = namer
        self.rt = rt_name
        self.line = stmt.lineno
        self.result = stmt.targets[0].id
        self.new: List = []

    def emit(self, suffix: str, value) -> str:
        """A fresh name (``result`` + ``suffix``) assigned ``value``."""
        name = self.namer.fresh(self.result + suffix)
        self.new.append(assign(name, value, self.line))
        return name

    def rt_call(self, suffix: str, function: str, args) -> str:
        return self.emit(suffix, call(f"{self.rt}.{function}", args))

    def item(self, suffix: str, name: str, i: int) -> str:
        return self.emit(suffix, gast.Subscript(value=load(name), slice=const(i), ctx=gast.Load()))

    def finish(self, value) -> List:
        """``result = value`` last; every statement."""
        self.new.append(assign(self.result, value, self.line))
        return self.new


# --- the functions that read a layout (sct.runtime.formats.plan) ---------------------------------
def layout_call(em: Emitter, node: gast.Call, fname: str, p, align, fail) -> List:
    """The inputs arranged (and flattened) as ``p.pre`` says (``align``: a permutation first, by
    position), the call with ``p.options``, and its result (or its item ``p.item``) arranged by
    ``p.post``; ``fail(message)`` refuses."""
    args = list(node.args)
    if fname == "crossentropy" or fname in rf.LOSS_FUNCTIONS:   # weights: vectors only (checked when run)
        _class_weights(em, node, fname, args)
    _arrange_inputs(em, node, fname, p, align, args, fail)
    keywords = [k for k in node.keywords if k.arg != "DataFormat" and k.arg not in p.options]
    keywords += [gast.keyword(arg=k, value=const(v)) for k, v in p.options.items()]
    core = gast.Call(func=node.func, args=args, keywords=keywords)
    if p.unbatch:       # no B in the input: the singleton batch put in front is dropped
        core = gast.Subscript(value=load(em.emit("_core", core)), slice=const(0), ctx=gast.Load())
    if p.post is None:
        return em.finish(core)
    inner = em.emit("_core", core)
    if p.item is not None and fname == "maxpool":     # Y arranged back; indx and inputSize made X's own
        y = em.rt_call("_0", "format_transpose", [load(em.item("_0", inner, 0)), perm_tuple(p.post)])
        pair = em.rt_call("_indices", "pool_indices_into", [load(em.item("_1", inner, 1)),
                                                             load(em.item("_2", inner, 2)), perm_tuple(p.post)])
        return em.finish(gast.Tuple(elts=[load(y), gast.Subscript(value=load(pair), slice=const(0), ctx=gast.Load()),
                                          gast.Subscript(value=load(pair), slice=const(1), ctx=gast.Load())],
                                    ctx=gast.Load()))
    if p.item is None:
        return em.finish(call(f"{em.rt}.format_transpose", [load(inner), perm_tuple(p.post)]))
    parts = []
    for i in range(p.outputs):
        part = em.item(f"_{i}", inner, i)
        if i == p.item:
            part = em.rt_call(f"_{i}", "format_transpose", [load(part), perm_tuple(p.post)])
        parts.append(load(part))
    return em.finish(gast.Tuple(elts=parts, ctx=gast.Load()))


def _class_weights(em: Emitter, node: gast.Call, fname: str, args: List) -> None:
    """A loss's class weights (third argument or ``weights=``) checked as a vector when run."""
    if len(args) > 2 and fname != "mse":
        args[2] = load(em.rt_call("_weights", "crossentropy_class_weights", [args[2], const(fname)]))
    for k in node.keywords:
        if k.arg == "weights":
            k.value = load(em.rt_call("_weights", "crossentropy_class_weights", [k.value, const(fname)]))


def _arrange_inputs(em: Emitter, node: gast.Call, fname: str, p, align, args: List, fail) -> None:
    keyed = {k.arg: k for k in node.keywords}
    for pos, perm, flatten in p.pre:
        if isinstance(pos, str) and pos not in keyed:
            # a Mask given by position (``l1loss(Y, T, None, M, DataFormat="CB")``): arranged as by
            # keyword (was: passed on in the data's order, refused as not broadcasting, or misread)
            index = _parameter_index(fname, pos)
            if index is None or index >= len(args):
                continue
            pos = index
        if isinstance(pos, str):
            a = keyed[pos].value
            if isinstance(a, gast.Constant) and a.value is None:
                continue        # Mask=None: no mask (was: None transposed, numpy's "axes don't match")
        elif pos >= len(args):
            fail(f"{fname}: pass the {'targets' if pos else 'input'} positionally with formatted data")
        else:
            a = args[pos]
        if pos in align:
            perm = rf.compose(align[pos], perm)
        if perm is not None:
            a = load(em.rt_call("_arranged", "format_transpose", [a, perm_tuple(perm)]))
        if flatten is not None:
            shape = em.rt_call("_shape", "flat_shape", [a, const(flatten)])
            a = load(em.rt_call("_flat", "format_reshape", [a, load(shape)]))
        if isinstance(pos, str):
            keyed[pos].value = a
        else:
            args[pos] = a
    for pos, name, function in p.calls:
        if pos < len(args):
            args[pos] = load(em.rt_call("_weights", function, [args[pos]]))
        elif name in keyed:
            keyed[name].value = load(em.rt_call("_weights", function, [keyed[name].value]))


def _parameter_index(fname: str, name: str):
    """The position of parameter ``name`` of the deep-learning function ``fname`` (None: none)."""
    import inspect
    fn = getattr(dlfun, fname, None) or getattr(nn, fname, None)
    names = list(inspect.signature(fn).parameters) if fn is not None else []
    return names.index(name) if name in names else None


# --- lstm and gru (sct.runtime.formats.recurrent_plan) -------------------------------------------
def recurrent_call(em: Emitter, node: gast.Call, fname: str, p, states: List, nstate: int) -> List:
    """X arranged (batch, time, features), the states into (batch, hidden), the default-layout call,
    and its outputs arranged back."""
    args = _recurrent_inputs(em, node, fname, p, states)
    nargout = recurrent_nargout(node, nstate)
    # (the default-layout call gives every output, arranged back; MATLAB's nargout keeps the first ones)
    keywords = [k for k in node.keywords if k.arg not in ("DataFormat", "nargout")]
    keywords.append(gast.keyword(arg="nargout", value=const(1 + nstate)))
    inner = em.emit("_core", gast.Call(func=node.func, args=args, keywords=keywords))
    parts = []
    y = em.item("_0", inner, 0)
    if p.reshape:
        shape = em.rt_call("_shape", "recurrent_out_shape", [load(y), const(p.has_b), const(p.has_t)]
                           + ([const(True)] if p.last else []))
        y = em.rt_call("_0", "format_reshape", [load(y), load(shape)])
    if p.y_post is not None:
        y = em.rt_call("_0", "format_transpose", [load(y), perm_tuple(p.y_post)])
    if nargout == 1:
        return em.finish(load(y))
    parts.append(load(y))
    for i in range(1, nargout):
        h = em.item(f"_{i}", inner, i)
        if p.c_first:
            h = em.rt_call(f"_{i}", "state_arrange", [load(h), const(True)])
        parts.append(load(h))
    return em.finish(gast.Tuple(elts=parts, ctx=gast.Load()))


def recurrent_nargout(node: gast.Call, nstate: int) -> int:
    """The literal ``nargout`` of an lstm/gru call (the compiler gives it: sct/normalize_exprs.py), or all of
    its outputs."""
    given = next((k.value for k in node.keywords if k.arg == "nargout"), None)
    return given.value if isinstance(given, gast.Constant) and given.value in range(1, 2 + nstate) else 1 + nstate


def _recurrent_inputs(em: Emitter, node: gast.Call, fname: str, p, states: List) -> List:
    args = list(node.args)
    a = args[0]
    if p.x_perm is not None:
        a = load(em.rt_call("_arranged", "format_transpose", [a, perm_tuple(p.x_perm)]))
    if p.reshape:
        shape = em.rt_call("_shape", "recurrent_shape", [a, const(p.has_b), const(p.has_t)])
        a = load(em.rt_call("_flat", "format_reshape", [a, load(shape)]))
    args[0] = a
    for i, s in enumerate(states, 1):
        if isinstance(s, str):
            perm = rf.align_perm(s, "BC", fname) if "B" in s else None
            if perm is not None:
                args[i] = load(em.rt_call("_state", "format_transpose", [args[i], perm_tuple(perm)]))
        elif p.c_first:
            args[i] = load(em.rt_call("_state", "state_arrange", [args[i], const(True)]))
    return args


class LayoutCalls(FormatInference):
    """The calls of the functions that read a layout: each planned here, its statements written by
    ``layout_call``/``recurrent_call``."""
    def given_format(self, stmt, node, fname: str, x):
        """The input's format as the call gives it: ``(DataFormat=..., False)`` for an unformatted
        input, ``(its labels, True)`` for a formatted one, or None (neither)."""
        explicit = next((k for k in node.keywords if k.arg == "DataFormat"), None)
        if explicit is not None and isinstance(explicit.value, gast.Name) and self.none_parameter(explicit.value.id):
            # a parameter defaulting to None (``DataFormat=DataFormat`` of a partial's function,
            # sct/partials.py: functools.partial(dlconv, Padding="same") was refused as a DataFormat not a
            # literal): unformatted, checked None when it runs (lower: rt.format_not_given)
            explicit = None
        if explicit is not None and isinstance(explicit.value, gast.Constant) and explicit.value.value is None:
            explicit = None         # (DataFormat=None written, or a partial's default read in place: no format)
        if explicit is not None:
            if not (isinstance(explicit.value, gast.Constant) and isinstance(explicit.value.value, str)):
                self.fail(stmt, f"{fname}: DataFormat inside dlfeval must be a literal string")
            if isinstance(x, str):
                self.fail(stmt, f"{fname}: DataFormat is for unformatted input; the input is labelled {x!r}")
            return explicit.value.value, False
        if isinstance(x, str):
            return x, True
        return None

    def none_parameter(self, name: str) -> bool:
        """Is ``name`` a parameter of the function, never rebound, that holds None when it runs: given None
        (its kind), or not given and defaulting to the literal None?"""
        if self.stored.get(name):
            return False
        if name in self.kinds:
            return self.kinds[name] == ("const", type(None))
        a = self.fdef.args
        positional = a.posonlyargs + a.args
        pairs = list(zip(positional[len(positional) - len(a.defaults):], a.defaults)) + \
            list(zip(a.kwonlyargs, a.kw_defaults))
        return any(arg.id == name and isinstance(default, gast.Constant) and default.value is None
                   for arg, default in pairs)

    def literal_parameter(self, name: str):
        """``(True, value)``: ``name`` is a parameter of the function, never rebound, defaulting to the
        literal ``value`` (a string, a number, a bool or None) and compiled for its kind (not given, or
        given a value of that kind: checked equal when it runs); ``(False, None)`` otherwise."""
        if self.stored.get(name):
            return False, None
        a = self.fdef.args
        positional = a.posonlyargs + a.args
        pairs = list(zip(positional[len(positional) - len(a.defaults):], a.defaults)) + \
            list(zip(a.kwonlyargs, a.kw_defaults))
        for arg, default in pairs:
            if arg.id != name:
                continue
            sign = 1
            if isinstance(default, gast.UnaryOp) and isinstance(default.op, gast.USub):
                sign, default = -1, default.operand         # (axis=-1)
            if not isinstance(default, gast.Constant) or type(default.value) not in (str, int, float, bool, type(None)) \
                    or sign < 0 and type(default.value) not in (int, float):
                return False, None
            value = default.value if sign > 0 else -default.value
            if self.kinds.get(name, kind_of(value)) != kind_of(value):
                return False, None
            return True, value
        return False, None

    #: the options a layout op's lowering reads as literals (besides DataFormat)
    _LITERAL_OPTIONS = ("OperationDimension", "nargout", "PoolFormat", "WeightsFormat", "Reduction", "reduction", "axis")

    def literal_options(self, node, fname):
        """The options of ``node`` given a parameter defaulting to a literal (``functools.partial(l2loss,
        DataFormat="CB")`` made in the function: sct/partials.py's nested def passes every option on by
        name, ``Reduction=Reduction``; a helper's ``fmt="CB"``; was refused as "must be a literal"): that
        literal in the call, and ``node._sct_literal_checks`` the (parameter, literal, option) checked
        equal when the code runs (``rt.format_is``)."""
        checks = getattr(node, "_sct_literal_checks", [])
        for k in node.keywords:
            if k.arg in self._LITERAL_OPTIONS + ("DataFormat", "Mask", "weights") and isinstance(k.value, gast.Name):
                found, value = self.literal_parameter(k.value.id)
                if found and (value is not None or k.arg != "DataFormat") and \
                        (value is None or k.arg not in ("Mask", "weights")):
                    checks.append((k.value.id, value, k.arg))
                    k.value = const(value)
        if fname in ("softmax", "crossentropy"):      # axis by position
            position = 1 if fname == "softmax" else 3
            if len(node.args) > position and isinstance(node.args[position], gast.Name):
                found, value = self.literal_parameter(node.args[position].id)
                if found and isinstance(value, int):
                    checks.append((node.args[position].id, value, "axis"))
                    node.args[position] = const(value)
        node._sct_literal_checks = checks

    # --- the functions that read a layout -----------------------------------------------------
    def lower(self, stmt, node, info, args, kws, env, rewrite):
        """dlconv, the poolings, normalisations, losses... on formatted data (or DataFormat=): planned
        here (``sct.runtime.formats.plan``), the statements from ``sct.format_emit.layout_call``."""
        fname = LAYOUT_OPS[id(info.obj)]
        x = args[0] if args else None
        self.literal_options(node, fname)
        literal_checks = [gast.Expr(value=call(f"{self.rt}.format_is", [load(name), const(value), const(fname),
                                                                        const(option)]))
                          for name, value, option in node._sct_literal_checks] if rewrite else []
        for check in literal_checks:
            check.lineno = getattr(stmt, "lineno", None)
        given = self.given_format(stmt, node, fname, x)
        if fname == "crossentropy" or (fname in rf.LOSS_FUNCTIONS and fname != "mse"):
            self.weights_format(stmt, node, fname, args[2] if len(args) > 2 else kws.get("weights"))
        if given is None:
            self.check_unformatted(stmt, fname, x, args, kws)
            explicit = next((k.value for k in node.keywords if k.arg == "DataFormat"), None)
            if rewrite and isinstance(explicit, gast.Name):         # (a parameter defaulting to None)
                check = gast.Expr(value=call(f"{self.rt}.format_not_given", [load(explicit.id), const(fname)]))
                check.lineno = getattr(stmt, "lineno", None)
                return None, literal_checks + [check, stmt]
            return None, (literal_checks + [stmt] if literal_checks else None)
        fmt, formatted = given
        align = {}
        if fname == "crossentropy" or fname in rf.LOSS_FUNCTIONS:
            align = self.loss_alignment(stmt, node, fname, args, fmt, env)
        elif fname == "attention":
            align = self.attention_alignment(stmt, node, args, kws, fmt)
        if fname in ("softmax", "crossentropy"):
            self.check_channel_axis(stmt, node, fname, fmt)
        p = self.layout_plan(stmt, node, fname, fmt, formatted, args)
        tree = p.out_format
        if p.item is not None:
            tree = tuple(p.out_format if i == p.item else None for i in range(p.outputs)) if p.out_format else None
        checks = literal_checks
        if not rewrite or not isinstance(stmt, gast.Assign) or not isinstance(stmt.targets[0], gast.Name):
            return tree, (checks + [stmt] if checks else None)
        return tree, checks + layout_call(Emitter(self.namer, self.rt, stmt), node, fname, p, align,
                                          lambda message: self.fail(stmt, message))

    def check_channel_axis(self, stmt, node, fname, fmt):
        """softmax's/crossentropy's ``axis`` on formatted data: -1 or the axis labelled "C" (the plan
        passes the C axis on, which replaced another axis silently)."""
        position = 1 if fname == "softmax" else 3
        given = node.args[position] if len(node.args) > position else \
            next((k.value for k in node.keywords if k.arg == "axis"), None)
        if given is None:
            return
        value = given.value if isinstance(given, gast.Constant) else None
        if isinstance(given, gast.UnaryOp) and isinstance(given.op, gast.USub) and isinstance(given.operand, gast.Constant):
            value = -given.operand.value
        if not isinstance(value, int):
            self.fail(stmt, f"{fname}: axis must be a literal with formatted data (the 'C' label says the axis)")
        try:
            nn.channel_axis(fname, value, fmt)
        except ValueError as exc:
            self.fail(stmt, str(exc))

    def weights_format(self, stmt, node, fname, w):
        """A loss's weight vector labelled "C" or "B" (``dlarray(w, "B")``): its label passed on as
        ``WeightsFormat=`` (MATLAB reads formatted weights by their labels; the labels are not there
        when the function runs)."""
        if not has_format(w):
            return
        if not (isinstance(w, str) and w in ("C", "B")):
            self.fail(stmt, f"{fname}: weights labelled {w if isinstance(w, str) else 'in a way not known here'!r}: "
                      "sct reads labelled weights as a vector, 'C' (per channel) or 'B' (per observation)")
        given = next((k for k in node.keywords if k.arg == "WeightsFormat"), None)
        if given is None:
            node.keywords.append(gast.keyword(arg="WeightsFormat", value=const(w)))
        elif not (isinstance(given.value, gast.Constant) and given.value.value == w):
            self.fail(stmt, f"{fname}: the weights are labelled {w!r}; WeightsFormat must be {w!r} or left out")

    def attention_alignment(self, stmt, node, args, kws, fmt):
        """attention's keys, values and PaddingMask labelled in another order than the queries:
        position -> the permutation into the queries' order (unformatted ones are in that order)."""
        align = {}
        for pos, t in ((1, args[1] if len(args) > 1 else None), (2, args[2] if len(args) > 2 else None),
                       ("PaddingMask", kws.get("PaddingMask"))):
            if isinstance(t, _Unknown) or (isinstance(t, str) and not rf.same_labels(t, fmt)):
                self.fail(stmt, f"attention: the {'keys' if pos == 1 else 'values' if pos == 2 else 'PaddingMask'} "
                          f"are labelled {t!r}, the queries {fmt!r}")
            if isinstance(t, str) and t != fmt:
                align[pos] = rf.align_perm(t, fmt)
        if len(node.args) < 3:
            self.fail(stmt, "attention: pass the queries, keys and values positionally with formatted data")
        return align

    def check_unformatted(self, stmt, fname, x, args, kws):
        """An input with no given format: refused where its format is not known, or where a loss's
        targets or mask are labelled."""
        if isinstance(x, _Lost):
            self.fail(stmt, lost_message(fname))
        if isinstance(x, _Unknown):
            self.fail(stmt, f"{fname}: the format of its input is not known when the function is compiled (it "
                      "differs by path, or comes from a call sct does not follow): give DataFormat= on "
                      "stripdims(x)")
        if fname == "attention" and any(has_format(t) for t in list(args[1:3]) + [kws.get("PaddingMask")]):
            self.fail(stmt, "attention: the keys or values are labelled but the queries are unformatted: label the "
                      "queries (dlarray(Q, fmt)) or give DataFormat=")
        loss = fname == "crossentropy" or fname in rf.LOSS_FUNCTIONS
        if loss and isinstance(x, tuple) and len(x) == 2 and x[1] is None:
            self.fail(stmt, f"{fname}: the predictions are a pair, as the (Y, state) that forward returns; write "
                      "Y, state = forward(net, X) (MATLAB's Y = forward(net, X) is Y = forward(net, X, nargout=1))")
        for what, t in (("targets", args[1] if len(args) > 1 else kws.get("targets")), ("Mask", kws.get("Mask"))):
            if loss and has_format(t):
                self.fail(stmt, f"{fname}: the {what} are labelled {t!r} but the predictions are "
                          "unformatted: label the predictions (dlarray(Y, fmt)) or give DataFormat=")

    def loss_alignment(self, stmt, node, fname, args, fmt, env):
        """A loss's targets (position 1) and mask labelled in another order than the predictions:
        position -> the permutation into the predictions' order."""
        align = {}
        mask = next((k.value for k in node.keywords if k.arg == "Mask"), None)
        for pos, t in ((1, args[1] if len(args) > 1 else None),
                       ("Mask", self.expr(mask, env, stmt) if mask is not None else None)):
            if isinstance(t, _Unknown) or (isinstance(t, str) and not rf.same_labels(t, fmt)):
                self.fail(stmt, f"{fname}: the {'targets' if pos == 1 else 'mask'} are labelled {t!r}, "
                          f"the predictions {fmt!r}")
            if isinstance(t, str) and t != fmt:
                align[pos] = rf.align_perm(t, fmt)     # arranged into the predictions' order first
        for k in node.keywords:
            if k.arg == "Reduction" and not (isinstance(k.value, gast.Constant) and k.value.value in ("sum", "none", None)):
                self.fail(stmt, f"{fname}: Reduction must be a literal 'sum' or 'none' with formatted data (the "
                          "unreduced loss is arranged back into Y's order)")
        return align

    def layout_plan(self, stmt, node, fname, fmt, formatted, args=()):
        options = {}
        if fname == "dlconv" and len(args) > 1 and isinstance(args[1], str) and "T" in args[1] and \
                not any(k.arg == "WeightsFormat" for k in node.keywords):
            # weights labelled with a T (MATLAB's "TCU": 1-D over time): their labels are not there when
            # the function runs, so they are passed on as WeightsFormat=
            node.keywords.append(gast.keyword(arg="WeightsFormat", value=const(args[1])))
        for k in node.keywords:
            if k.arg in ("OperationDimension", "nargout", "PoolFormat", "WeightsFormat", "Reduction", "reduction") and \
                    (k.arg != "WeightsFormat" or fname in rf.CONV_FUNCTIONS):
                if not isinstance(k.value, gast.Constant):
                    self.fail(stmt, f"{fname}: {k.arg} must be a literal with formatted data")
                options[k.arg] = k.value.value
        try:
            return rf.plan(fname, fmt, formatted, options)
        except (TypeError, ValueError) as exc:
            self.fail(stmt, str(exc))


    # --- lstm and gru ---------------------------------------------------------------------------
    def lower_recurrent(self, stmt, node, info, args, kws, env, rewrite):
        """``lstm``/``gru`` on formatted X (or DataFormat=): planned here
        (``sct.runtime.formats.recurrent_plan``), the statements from ``sct.format_emit.recurrent_call``."""
        fname = RECURRENT_OPS[id(info.obj)]
        nstate = rf.RECURRENT_FUNCTIONS[fname]
        for k in node.keywords:
            if k.arg != "DataFormat" and has_format(kws.get(k.arg)):
                self.fail(stmt, f"{fname}: pass formatted inputs positionally")
        x = args[0] if args else None
        given = self.given_format(stmt, node, fname, x)
        if given is not None:
            fmt, formatted = given
        elif isinstance(x, _Lost):
            self.fail(stmt, lost_message(fname))
        elif isinstance(x, _Unknown) or any(has_format(t) for t in args[1:]):
            self.fail(stmt, f"{fname}: the format of X is not known when the function is compiled (it differs by "
                      "path, comes from a call sct does not follow, or X is unformatted while the states or "
                      "weights are formatted): label X or give DataFormat= on stripdims(X)")
        else:
            return None, None
        for t in args[1:]:
            if not (t is None or isinstance(t, str)):
                self.fail(stmt, f"{fname}: the format of an argument is not known when the function is compiled")
        if len(node.args) < 1 + nstate:
            self.fail(stmt, f"{fname}: pass X and the states positionally with formatted data")
        states = [args[i] if i < len(args) else None for i in range(1, 1 + nstate)]
        mode = [k.value for k in node.keywords if k.arg == "OutputMode"]
        if mode and not (isinstance(mode[0], gast.Constant) and isinstance(mode[0].value, str)):
            self.fail(stmt, f"{fname} on formatted data: give OutputMode as a string literal")
        p = self.recurrent_plan(stmt, fname, fmt, formatted, args, states, bool(mode) and mode[0].value == "last")
        tree = (p.y_format,) + tuple(p.state_format if (s and formatted) else None for s in states)
        nargout = recurrent_nargout(node, nstate)
        tree = tree[0] if nargout == 1 else tree[:nargout]
        if not (any(t is not None for t in tree) if isinstance(tree, tuple) else tree is not None):
            tree = None
        if not rewrite or not isinstance(stmt, gast.Assign) or not isinstance(stmt.targets[0], gast.Name):
            if rewrite:
                self.fail(stmt, f"{fname} on formatted data: assign its result (Y, h = {fname}(...))")
            return tree, None
        return tree, recurrent_call(Emitter(self.namer, self.rt, stmt), node, fname, p, states, nstate)

    def recurrent_plan(self, stmt, fname, fmt, formatted, args, states, last=False):
        nstate = len(states)
        names = ("X", "H0", "C0")[:1 + nstate] + ("weights", "recurrentWeights", "bias")
        weight_formats = [(n, args[i] if i < len(args) else None, a) for i, n, a in
                          zip(range(1 + nstate, 4 + nstate), names[1 + nstate:], (("CU",), ("CU",), ("C",)))]
        try:
            return rf.recurrent_plan(fname, fmt, formatted, list(zip(names[1:], states)), weight_formats, last)
        except (TypeError, ValueError) as exc:
            self.fail(stmt, str(exc))
