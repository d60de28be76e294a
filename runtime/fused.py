"""Fused elementwise expressions: what ``rt.fused("sin(x) * y + 1", x, y)`` runs.

sct's optional numexpr backend (``sct.set_backend("numexpr")``, see sct/fuse.py) replaces a
straight-line chain of elementwise numpy operations of generated code by one call of
:func:`fused`: the chain, written as a numpy expression over the chain's inputs (numpy's
function names without ``np.``; ``unbroadcast(g, like)`` is sct's adjoint of broadcasting).
The arguments follow the order in which the names first appear in the text.

One call evaluates the chain with numexpr (one pass over memory, no temporaries of the full
size) only where that gives numpy's result:

* every array is float64 or float32 and all arrays and numpy scalars have the same dtype
  (Python ints and floats take that dtype, as numpy does with them); no integer, bool or
  complex data;
* at least one array has ``min_size`` elements or more (numexpr's own cost is a few us; a call
  with none goes to numpy before any other check);
* with ``measure`` on (the default, sct.set_backend's cost model): numexpr was measured faster.
  The first TRIALS + 1 calls of an expression for a dtype and a power-of-two size class run
  both numexpr and numpy, time them (the first is a warm-up) and return numpy's value; a call of
  a class numpy won goes to numpy before the other checks; numexpr evaluates a class only
  if its best time was at most GAIN times numpy's (on one thread with a malloc that keeps its
  memory, numpy's SIMD loops win even on long chains: numexpr gains where temporaries cost page
  faults or where it runs several threads);
* an ``unbroadcast`` in the chain is the identity: every array has the same shape;
* numpy's error settings are the defaults (nothing raises; underflow ignored).  A result
  with an inf or a NaN is computed again by numpy, so numpy's values and its warnings
  (``divide by zero``, ``invalid value``) are what the caller gets.

Anything else, and any error of numexpr, runs the same expression with numpy: the fallback
is the code the chain replaced (with arrays of ``min_size`` elements, each operation on a value
the chain made written into that value's buffer, as the plain backend's ``rt.into_temporary``
does: the same ufuncs, the same numbers).  Elementary operations (``+ - * /``, ``sqrt``,
``abs``, powers 2, 0.5, -1, 0, 1) round as numpy's do; transcendental functions (``exp``,
``log``, ``tanh``...) and other powers use the C library's and may differ from numpy's
own implementations in the last bit (relative 1e-16 in float64, 1e-7 in float32).

This module never imports numexpr until a fused expression is evaluated.
"""
from __future__ import annotations

import ast
from time import perf_counter as _clock
from typing import Dict, List, Optional, Tuple

from .imported import np

from .support import into_temporary, negative_into, unbroadcast

# numpy function name -> (number of arguments, the numexpr spelling as a format string)
FUNCTIONS: Dict[str, Tuple[int, str]] = {
    "sin": (1, "sin({0})"), "cos": (1, "cos({0})"), "tan": (1, "tan({0})"),
    "arcsin": (1, "arcsin({0})"), "arccos": (1, "arccos({0})"), "arctan": (1, "arctan({0})"),
    "sinh": (1, "sinh({0})"), "cosh": (1, "cosh({0})"), "tanh": (1, "tanh({0})"),
    "arcsinh": (1, "arcsinh({0})"), "arccosh": (1, "arccosh({0})"), "arctanh": (1, "arctanh({0})"),
    "exp": (1, "exp({0})"), "expm1": (1, "expm1({0})"), "log": (1, "log({0})"),
    "log1p": (1, "log1p({0})"), "log10": (1, "log10({0})"), "sqrt": (1, "sqrt({0})"),
    "abs": (1, "abs({0})"), "absolute": (1, "abs({0})"), "fabs": (1, "abs({0})"),
    "negative": (1, "(-({0}))"), "square": (1, "(({0}) ** 2)"), "reciprocal": (1, "(({0}) ** -1)"),
    "arctan2": (2, "arctan2({0}, {1})"),
}
# powers numpy computes by an elementary operation (square, sqrt, reciprocal, copy, ones)
# and numexpr ('moderate' optimisation) too: kept as literals in the numexpr text
EXACT_POWERS = (2, 0.5, -1, 0, 1)

min_size = [32768]     # [n]: arrays smaller than this run with numpy (sct.set_backend sets it)
# [on]: whether numexpr's and numpy's times are measured before numexpr takes over an expression
# (sct.set_backend(..., cost_model=False): numexpr wherever it gives numpy's result)
measure = [True]
# the measured choice: TRIALS timings of each (after one warm-up), numexpr kept where its best is at
# most GAIN times numpy's
TRIALS = 4
GAIN = 0.9

_DTYPES = (np.dtype(np.float64), np.dtype(np.float32))
_WEAK = (float, int)
_CACHE: Dict[str, "FusedExpression"] = {}


def expression_names(tree) -> List[str]:
    """The argument names of a fused expression, in order of first appearance (function names
    excluded)."""
    seen: Dict[str, None] = {}

    def visit(node):
        if isinstance(node, ast.Call):
            for a in node.args:
                visit(a)
            return
        if isinstance(node, ast.Name):
            seen.setdefault(node.id, None)
            return
        for child in ast.iter_child_nodes(node):
            visit(child)
    visit(tree)
    return list(seen)


def fused(expression: str, *args):
    """Evaluate ``expression`` (a numpy expression) for ``args`` (see the module's docstring)."""
    entry = _CACHE.get(expression)
    if entry is None:
        entry = _CACHE[expression] = FusedExpression(expression)
    big = None
    for a in args:
        if type(a) is np.ndarray and (big is None or a.size > big.size):
            big = a
    if big is None or big.size < min_size[0]:
        return entry.numpy(*args)         # no array of min_size elements: numpy, at once
    if measure[0] and entry.choice.get((big.dtype, big.size.bit_length())) is False:
        return entry.numpy_in_place(*args)    # numpy measured faster for arrays of this size
    return entry(args)


class _Unfusable(Exception):
    pass


class FusedExpression:
    def __init__(self, expression: str):
        self.expression = expression
        tree = ast.parse(expression, mode="eval").body
        self.names = expression_names(tree)
        index = {n: i for i, n in enumerate(self.names)}
        namespace = {name: getattr(np, name) for name in FUNCTIONS}
        namespace["unbroadcast"] = unbroadcast
        namespace["__builtins__"] = {}
        # the numpy form: exactly the statements the chain replaced
        self.numpy = eval("lambda %s: %s" % (", ".join(self.names), expression), namespace)
        # ... for large arrays, each operation on a value the chain made written into that value's
        # buffer (the plain backend's rt.into_temporary: the same ufuncs, the same numbers)
        namespace.update(into_temporary=into_temporary, negative_into=negative_into)
        self.numpy_in_place = eval("lambda %s: %s" % (", ".join(self.names), _in_place_text(tree)), namespace)
        self.unbroadcasts: List[Tuple[int, Tuple[int, ...]]] = []
        self.constants: List[float] = []
        self.used: Dict[int, None] = {}          # the arguments numexpr reads (not references)
        # the arguments under each operation: one whose arguments are all Python numbers is
        # Python's arithmetic (which raises on 0.0 ** -1 and 1.0 / 0) or a numpy function of
        # numbers (a float64 scalar, which makes float32 arrays float64): numpy computes those
        self.operations: List[frozenset] = []
        try:
            self.text = self._numexpr_text(tree, index)
        except _Unfusable:
            self.text = None
        self.programs: Dict[np.dtype, object] = {}
        # (dtype, size class) -> True (numexpr measured faster), False (numpy), or the timings so far
        self.choice: Dict[tuple, object] = {}
        self.constant_arrays: Dict[np.dtype, list] = {}
        self.has_unbroadcast = bool(self.unbroadcasts)
        self.used = sorted(self.used)

    # --- the numexpr program -----------------------------------------------------------------
    def _numexpr_text(self, node, index) -> str:
        if isinstance(node, (ast.BinOp, ast.UnaryOp, ast.Call)) and _constant(node) is None:
            self.operations.append(frozenset(index[n] for n in expression_names(node)
                                             if n in index))
        if isinstance(node, ast.Name):
            self.used.setdefault(index[node.id], None)
            return "a%d" % index[node.id]
        if isinstance(node, ast.Constant) and type(node.value) in _WEAK:
            self.constants.append(node.value)
            return "c%d" % (len(self.constants) - 1)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return "(-%s)" % self._numexpr_text(node.operand, index)
        if isinstance(node, ast.BinOp):
            left = self._numexpr_text(node.left, index)
            if isinstance(node.op, ast.Pow):
                p = _constant(node.right)
                if p is None:
                    raise _Unfusable
                if p in EXACT_POWERS or (type(p) is int and abs(p) < 2 ** 31):
                    return "(%s ** %r)" % (left, p)     # int literals keep float32 float32
                self.constants.append(p)
                return "(%s ** c%d)" % (left, len(self.constants) - 1)
            op = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}.get(type(node.op))
            if op is None:
                raise _Unfusable
            return "(%s %s %s)" % (left, op, self._numexpr_text(node.right, index))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
            name = node.func.id
            if name == "unbroadcast" and len(node.args) == 2 and isinstance(node.args[1], ast.Name):
                leaves = tuple(index[n] for n in expression_names(node.args[0]))
                self.unbroadcasts.append((index[node.args[1].id], leaves))
                return self._numexpr_text(node.args[0], index)
            arity, spelling = FUNCTIONS.get(name, (None, None))
            if arity == len(node.args):
                return spelling.format(*[self._numexpr_text(a, index) for a in node.args])
        raise _Unfusable

    def _program(self, dtype):
        program = self.programs.get(dtype, False)
        if program is False:
            program = None
            try:
                import numexpr
                import numexpr.necompiler as nc
                want = "double" if dtype == np.float64 else "float"      # numexpr's kinds
                kind = next(t for t, k in nc.type_to_kind.items() if k == want)
                signature = [("a%d" % i, kind) for i in self.used] + \
                    [("c%d" % i, kind) for i in range(len(self.constants))]
                program = numexpr.NumExpr(self.text, signature=signature, optimization="moderate")
                self.constant_arrays[dtype] = [np.array(c, dtype=dtype) for c in self.constants]
            except Exception:           # numexpr lacks a function for this dtype: numpy
                program = None
            self.programs[dtype] = program
        return program

    # --- a call ------------------------------------------------------------------------------
    def __call__(self, args):
        """(``fused`` calls this where an array has ``min_size`` elements or more.)"""
        if self.text is not None:
            out = self._try_numexpr(args)
            if out is not None:
                return out
        return self.numpy_in_place(*args)

    def _measured(self, key, run, args):
        """numexpr's result where it is measured faster than numpy for this dtype and size class
        (``key``), else None; while measuring, numpy's result (``run`` gives numexpr's or None).

        The first TRIALS + 1 calls of each size class run both and time them (the first call is
        a warm-up, not counted; the order alternates, and the result not returned is dropped
        before the other runs); numexpr is kept only where its best time is at most GAIN times
        numpy's (numpy's SIMD loops beat numexpr's interpreter on one thread where temporaries
        are cheap).  Either way the value is the same expression's (numexpr's rounding only
        differs from numpy's where the module docstring says)."""
        state = self.choice.get(key)
        if state is True:
            return run()
        if state is False:
            return None
        if state is None:
            state = self.choice[key] = ([], [], [0])
        trial = state[2][0]
        if trial % 2 == 0:
            out, t_numexpr = self._timed("numexpr", run)
            if out is None:             # numexpr declined (an inf or a NaN...): measure another call
                return None
            del out
            ref, t_numpy = self._timed("numpy", lambda: self.numpy_in_place(*args))
        else:
            ref, t_numpy = self._timed("numpy", lambda: self.numpy_in_place(*args))
            out, t_numexpr = self._timed("numexpr", run)
            if out is None:
                return ref
            del out
        state[2][0] = trial + 1
        if trial:                       # (the first trial warms up both)
            state[0].append(t_numexpr)
            state[1].append(t_numpy)
        if len(state[0]) >= TRIALS:
            self.choice[key] = min(state[0]) <= GAIN * min(state[1])
        return ref

    @staticmethod
    def _timed(label, f):
        """``(f(), seconds)`` (``label``: "numexpr" or "numpy", for tests)."""
        start = _clock()
        out = f()
        return out, _clock() - start

    def _try_numexpr(self, args) -> Optional[np.ndarray]:
        """numexpr's result, or None where numpy computes this call (see the helpers' reasons)."""
        found = _common_dtype(args)
        if found is None:
            return None
        dtype, same_shape = found
        if not self._numexpr_applies(args, same_shape):
            return None
        check = _error_check()
        if check is None:
            return None
        program = self._program(dtype)
        if program is None:
            return None
        values = self._values(args, dtype)
        if values is None:
            return None
        if measure[0]:
            big = max((a for a in args if type(a) is np.ndarray), key=lambda a: a.size)
            return self._measured((big.dtype, big.size.bit_length()),
                                  lambda: self._run(program, values, dtype, check), args)
        return self._run(program, values, dtype, check)

    def _run(self, program, values, dtype, check) -> Optional[np.ndarray]:
        try:
            out = program(*values, *self.constant_arrays[dtype])
        except Exception:
            return None             # numpy says what is wrong (shapes that do not broadcast...)
        if check:
            with np.errstate(invalid="ignore", over="ignore"):   # the test itself warns of nothing
                finite = np.isfinite(np.add.reduce(out, axis=None))
            if not finite:
                return None         # an inf or a NaN: numpy's values and warnings
        if out.ndim == 0:
            return out[()]
        return out

    def _numexpr_applies(self, args, same_shape: bool) -> bool:
        """No operation of Python numbers only, and every unbroadcast the identity."""
        numbers = {i for i, a in enumerate(args) if type(a) is float or type(a) is int}
        for leaves in self.operations:
            if leaves <= numbers:
                return False
        if self.has_unbroadcast:
            # the identity only where the chain and every reference have one shape
            if not same_shape:
                return False
            for ref, leaves in self.unbroadcasts:
                if type(args[ref]) is not np.ndarray or \
                        not any(type(args[k]) is np.ndarray for k in leaves):
                    return False
        return True

    def _values(self, args, dtype) -> Optional[list]:
        """The arguments numexpr reads, Python numbers as 0-d arrays of ``dtype`` (None: one is out
        of the dtype's range)."""
        values = []
        for i in self.used:
            a = args[i]
            if type(a) is not np.ndarray:
                if type(a) in _WEAK and not abs(a) <= (3.4e38 if dtype == np.float32 else 1.7e308):
                    return None     # numpy's rules for a Python number out of the dtype's range
                a = np.array(a, dtype=dtype)
            values.append(a)
        return values


def _common_dtype(args) -> Optional[Tuple[np.dtype, bool]]:
    """``(dtype, same shape)`` of the array and numpy-scalar arguments: one float dtype and one
    array of at least ``min_size`` elements, else None (numpy computes the call)."""
    dtype = None
    big = False
    shape = None
    same_shape = True
    limit = min_size[0]
    for a in args:
        t = type(a)
        if t is float or t is int:
            continue
        if t is np.ndarray:
            if a.size >= limit:
                big = True
            s = a.shape
        elif t is np.float64 or t is np.float32:
            s = ()
        else:
            return None
        if dtype is None:
            dtype, shape = a.dtype, s
        else:
            if a.dtype != dtype:
                return None
            if s != shape:
                same_shape = False
    if not big or dtype not in _DTYPES:
        return None
    return dtype, same_shape


def _error_check() -> Optional[bool]:
    """Whether numexpr's result must be checked for infs and NaNs (numpy warns of them), or None
    where numpy's error state asks for what only numpy does (raise, call, log, print)."""
    err = np.geterr()
    if err["under"] != "ignore":
        return None
    check = False
    for key in ("divide", "over", "invalid"):
        mode = err[key]
        if mode == "ignore":
            continue
        if mode != "warn":
            return None     # raise, call, log, print: numpy reports it as set
        check = True
    return check


_IN_PLACE_OPS = {ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "div"}


def _in_place_text(tree) -> str:
    """The numpy expression ``tree`` with each ``+ - * /`` and unary ``-`` one of whose operands is
    an array the expression itself made (an operation's result: not an argument, not a constant,
    not an ``unbroadcast``, which may be its argument) as ``into_temporary(op, a, b, side)`` /
    ``negative_into(a)``: written into that operand's buffer where it is an array of the result's
    shape and dtype (into_temporary checks)."""
    def made(node) -> bool:
        if _constant(node) is not None or isinstance(node, (ast.Name, ast.Constant)):
            return False
        if isinstance(node, ast.Call):
            return isinstance(node.func, ast.Name) and node.func.id != "unbroadcast"
        return isinstance(node, (ast.BinOp, ast.UnaryOp))

    def text(node) -> str:
        if isinstance(node, ast.BinOp) and type(node.op) in _IN_PLACE_OPS and _constant(node) is None:
            left, right = text(node.left), text(node.right)
            side = 0 if made(node.left) else 1 if made(node.right) else None
            if side is not None:
                return "into_temporary(%r, %s, %s, %d)" % (_IN_PLACE_OPS[type(node.op)], left, right, side)
            return "(%s %s %s)" % (left, {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}[type(node.op)],
                                   right)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and made(node.operand):
            return "negative_into(%s)" % text(node.operand)
        if isinstance(node, ast.BinOp):
            return "(%s %s %s)" % (text(node.left), _BINARY_TEXT[type(node.op)], text(node.right))
        if isinstance(node, ast.UnaryOp):
            return "(%s%s)" % (_UNARY_TEXT[type(node.op)], text(node.operand))
        if isinstance(node, ast.Call):
            return "%s(%s)" % (ast.unparse(node.func), ", ".join(text(a) for a in node.args))
        return "(%s)" % ast.unparse(node)
    return text(tree)


_BINARY_TEXT = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}
_UNARY_TEXT = {ast.USub: "-", ast.UAdd: "+"}


def _constant(node):
    if isinstance(node, ast.Constant) and type(node.value) in _WEAK:
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        v = _constant(node.operand)
        return None if v is None else -v
    return None
