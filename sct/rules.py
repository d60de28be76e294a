"""Derivative rules for your own functions: :func:`defrule`."""
from __future__ import annotations

from typing import Callable, Optional, Sequence

from .runtime import registry


def defrule(*ops: Callable, wrt: Optional[Sequence[str]] = None, nondiff: Sequence[str] = (),
            linear: Sequence[str] = (), joint_linear: Sequence[str] = (), elementwise: Optional[bool] = None,
            many_outputs: bool = False, real_output: bool = False, complex_output: bool = False,
            method: Sequence[str] = ()) -> Callable:
    """Register the decorated function as the derivative rule of each op in ``ops``.

    Use it for a function sct cannot read (a compiled extension, a SciPy special
    function) or whose derivative you want to give yourself.  The rule's
    parameters are ``g`` (the adjoint of the op's result), ``ans`` (its result),
    then the op's own parameters; its single ``return`` gives the adjoint of each
    parameter named in ``wrt`` (default: the first), in that order.  The rule is
    written in differentiable code (numpy ops, or your own functions, which sct
    reads), so second derivatives work through it too.  Complex inputs follow
    MATLAB's convention: multiply by the conjugate of a holomorphic derivative.

    >>> import numpy as np, sct
    >>> def softplus(x):                       # sct would read this; the rule replaces it
    ...     return np.log1p(np.exp(x))
    >>> def logistic(x):
    ...     return 1 / (1 + np.exp(-x))
    >>> @sct.defrule(softplus)
    ... def softplus_rule(g, ans, x):
    ...     return g * logistic(x)
    >>> def f(x):
    ...     y = np.sum(softplus(x))
    ...     return sct.dlgradient(y, x)
    >>> sct.dlfeval(f, sct.dlarray([0.0])).data.tolist()   # doctest: +SKIP
    [0.5]

    The op's *facts*, all optional, are registered with the rule (the compiler reads them;
    a parameter name must be one of the op's).  Give only what is true of the op:

    * ``nondiff=("idx",)``: parameters that carry no derivative (indices, counts, flags);
      a traced value passed to a parameter neither in ``wrt`` nor here is refused.
    * ``linear=("x",)``: the op is linear in each named parameter (the others fixed), so
      forward mode applies the op to the tangent (``op(dot_x, w)``) instead of transposing
      the rule; for several names, the sum over the traced ones (the product rule, as for
      ``a @ b``).
    * ``joint_linear=("a", "b")``: linear in the named parameters together
      (``op(dot_a, dot_b)``).
    * ``elementwise=True``: each result element depends only on the same element of each
      argument (numpy's ufuncs and ``math``'s functions are by default); a rule of the form
      ``g * conj(partial)`` then gives the forward tangent ``dot * partial``.
    * ``many_outputs=True``: the op returns (or may return) a tuple or list of arrays.
    * ``real_output=True``: the result is real even for a complex argument.
    * ``complex_output=True``: the result may be complex for real arguments (an FFT).
    * ``method="name"`` (or a tuple of names): ``x.name(...)`` of a traced ``x`` means
      ``op(x, ...)``.

    Compiled functions are recompiled after a rule is added or replaced.
    """
    if not ops:
        raise TypeError("defrule needs the function(s) the rule is for: @sct.defrule(myop)")
    for op in ops:
        if _looks_like_rule(op):
            # sct.defrule(op, rule) registered nothing for op (both were taken for ops): a Python op
            # was then differentiated from its source, not by the rule the user gave
            raise TypeError(f"sct.defrule({', '.join(getattr(o, '__name__', '?') for o in ops)}): "
                            f"{getattr(op, '__name__', op)} takes (g, ans, ...) like a rule; defrule takes the "
                            "ops only and returns the decorator: @sct.defrule(myop) over def rule(g, ans, x), "
                            "or sct.defrule(myop)(rule)")
    for op in ops:
        _refuse_writes_into_arguments(op)
        _note_effects(op)
    register = registry.defrule(*ops, wrt=wrt, nondiff=nondiff, linear=linear, joint_linear=joint_linear,
                            elementwise=elementwise, many_outputs=many_outputs, real_output=real_output,
                            complex_output=complex_output, method=method)

    def checked(fn):
        _refuse_writes_into_arguments(fn, rule=True)
        _refuse_rule_statements(fn)
        return register(fn)
    return checked


def _looks_like_rule(op) -> bool:
    """A Python function whose first two parameters are ``g`` and ``ans``: a rule, not an op."""
    code = getattr(getattr(op, "__func__", op), "__code__", None)
    return code is not None and code.co_argcount >= 2 and code.co_varnames[:2] == ("g", "ans")


def _refuse_rule_statements(fn) -> None:
    """A rule is one ``return`` (a docstring before it is fine): its expression is the template
    sct writes into the adjoint of each call.  Refused when it is registered, at its first other
    statement (was: an "internal error" where a function calling the op compiled)."""
    import ast
    from .errors import CompileError
    fdef = _op_def(fn)
    if fdef is None:
        return
    body = [s for s in fdef.body
            if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant) and isinstance(s.value.value, str))]
    if len(body) == 1 and isinstance(body[0], ast.Return) and body[0].value is not None:
        return
    other = next((s for s in body if not isinstance(s, ast.Return)), body[0] if body else fdef)
    code = fn.__code__
    raise CompileError(
        f"the rule {fn.__name__}() must be a single `return` of the adjoints (sct writes that expression "
        f"into the generated code at each call of the op): compute the intermediate values inside the "
        f"expression, or in helper functions it calls (`return g * helper(x)`)",
        code.co_filename, code.co_firstlineno + other.lineno - 1, "defrule")


_IN_PLACE_METHODS = {"fill", "sort", "resize", "put", "itemset", "setfield", "partition", "byteswap",
                     "append", "extend", "insert", "pop", "remove", "clear", "update", "setdefault",
                     "popitem", "reverse"}


def _op_def(op):
    """The ``def`` of a rule's op written in Python (its source parsed with ``ast``), or None (no
    source, a builtin)."""
    import ast
    import inspect
    import textwrap
    fn = getattr(op, "__func__", op)
    if getattr(fn, "__code__", None) is None:
        return None
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    except (OSError, TypeError, SyntaxError, IndentationError):
        return None
    return next((n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))), None)


def _refuse_writes_into_arguments(op, rule: bool = False) -> None:
    """An op given a rule runs as it is (its body is not differentiated): one written in Python that
    changes an argument in place (``x[x < 0] = 0``, ``x *= 2``, ``np.add(a, b, out=x)``, ``x.fill(0)``)
    would change the caller's array, whose other uses sct differentiates as the value before: a wrong
    gradient.  Refused when the rule is registered, naming the op's line (a parameter bound anew at
    the top level of the body before the write is the op's own array)."""
    import ast
    from .errors import CompileError
    fn = getattr(op, "__func__", op)
    code = getattr(fn, "__code__", None)
    fdef = _op_def(op)
    if fdef is None:
        return
    args = fdef.args
    params = {a.arg for a in args.posonlyargs + args.args + args.kwonlyargs}
    if args.vararg:
        params.add(args.vararg.arg)

    def base_name(node):
        while isinstance(node, (ast.Subscript, ast.Attribute)):
            node = node.value
        return node.id if isinstance(node, ast.Name) else None

    def writes(node, live):
        """(name, line) of a write into a live parameter in ``node`` (nested statements too)."""
        for n in ast.walk(node):
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)) and n is not node:
                continue
            targets = []
            if isinstance(n, ast.Assign):
                targets = [t for t in n.targets if isinstance(t, (ast.Subscript, ast.Attribute))]
            elif isinstance(n, ast.AugAssign):
                targets = [n.target]
            elif isinstance(n, ast.Call):
                for kw in n.keywords:
                    if kw.arg == "out":
                        targets.append(kw.value)
                func = n.func
                if isinstance(func, ast.Attribute) and func.attr in _IN_PLACE_METHODS:
                    targets.append(func.value)
                if isinstance(func, ast.Attribute) and func.attr in ("copyto", "at") and n.args:
                    targets.append(n.args[0])
            for t in targets:
                for part in (t.elts if isinstance(t, ast.Tuple) else [t]):
                    name = base_name(part)
                    if name in live:
                        return name, n.lineno
        return None

    live = set(params)
    for stmt in fdef.body:
        found = writes(stmt, live)
        if found:
            name, line = found
            what = (f"the rule {fn.__name__}() writes into its argument {name!r} in place: the adjoint g, "
                    f"the result ans and the op's arguments are shared with the rest of the computation and "
                    f"its gradient, which would change too" if rule else
                    f"{fn.__name__}() writes into its argument {name!r} in place, and sct.defrule makes it an "
                    f"op that runs as it is: the caller's array would change, and its other uses would be "
                    f"differentiated as the value before")
            raise CompileError(
                f"{what}. Write `{name} = {name}.copy()` first (or build a new array)",
                code.co_filename, code.co_firstlineno + line - 1, "defrule")
        if isinstance(stmt, ast.Assign):
            for t in stmt.targets:
                for part in (t.elts if isinstance(t, ast.Tuple) else [t]):
                    if isinstance(part, ast.Name):
                        live.discard(part.id)


# ops given a rule with sct.defrule whose body has an effect (a random draw, a print, a write into an
# object from outside it): id(op) -> (op, what).  They run as they are, once per call, in the forward
# code; where a second derivative recomputes the function they would run again (drawing again: a
# wrong value), so the forward code calls rt.recompute_guard before them (sct/forward_code.py).
EFFECTFUL_OPS: dict = {}

_DRAWING_METHODS = {"random", "normal", "standard_normal", "uniform", "integers", "choice", "shuffle",
                    "permutation", "permuted", "binomial", "rand", "randn", "randint", "random_sample",
                    "poisson", "exponential", "beta", "gamma", "bytes", "standard_exponential",
                    "multivariate_normal", "laplace", "logistic", "lognormal", "geometric", "bernoulli",
                    "sample", "gauss", "shuffle", "randrange", "getrandbits"}


def _note_effects(op) -> None:
    import ast
    fdef = _op_def(op)
    if fdef is None:
        return
    args = fdef.args
    local = {a.arg for a in args.posonlyargs + args.args + args.kwonlyargs}
    local |= {a.arg for a in (args.vararg, args.kwarg) if a}
    for n in ast.walk(fdef):
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
            local.add(n.id)

    def root(node):
        while isinstance(node, (ast.Subscript, ast.Attribute, ast.Call)):
            node = node.func if isinstance(node, ast.Call) else node.value
        return node.id if isinstance(node, ast.Name) else None

    what = None
    for n in ast.walk(fdef):
        if isinstance(n, (ast.Global, ast.Nonlocal)):
            what = "changes a name outside it"
        elif isinstance(n, ast.Call):
            func = n.func
            if isinstance(func, ast.Name) and func.id in ("print", "open", "input"):
                what = f"calls {func.id}()"
            elif isinstance(func, ast.Attribute) and func.attr in _DRAWING_METHODS:
                what = f"draws random numbers ({ast.unparse(func)})"
            elif isinstance(func, ast.Attribute) and root(func.value) not in local and root(func.value) and \
                    func.attr in ("append", "extend", "insert", "pop", "update", "setdefault", "clear", "add"):
                what = f"changes an object from outside it ({ast.unparse(func)})"
        elif isinstance(n, (ast.Assign, ast.AugAssign)):
            targets = n.targets if isinstance(n, ast.Assign) else [n.target]
            for t in targets:
                if isinstance(t, (ast.Subscript, ast.Attribute)) and root(t) and root(t) not in local:
                    what = f"writes into an object from outside it ({ast.unparse(t)})"
        if what:
            break
    if what:
        EFFECTFUL_OPS[id(op)] = (op, what)
    else:
        EFFECTFUL_OPS.pop(id(op), None)
